// A long-lived veraPDF (PDF/A conformance) validator for the validation service, over loopback HTTP.
// One JVM for the whole stack (deploy/local/lib/verapdf.sh starts it like Kafka); never one JVM per file.
//
//   GET  /health           -> 200 "ok <veraPDF version>"
//   POST /validate         body: the PDF bytes; optional query ?flavour=1b|2b|... (default: the flavour the
//                          file declares in its XMP; a file that declares none is reported as such)
//                          -> 200 JSON {"declared": "2b"|null, "flavour": "2b"|null, "compliant": bool|null,
//                                       "failed_rules": ["6.2.11.4.1-1", ...], "failed_checks": n, "error": ...}
//
// Compiled against the greenfield jars (org.verapdf.apps:greenfield-apps, Maven Central) by verapdf.sh.
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executors;
import org.verapdf.core.EncryptedPdfException;
import org.verapdf.core.ModelParsingException;
import org.verapdf.gf.foundry.VeraGreenfieldFoundryProvider;
import org.verapdf.pdfa.Foundries;
import org.verapdf.pdfa.PDFAParser;
import org.verapdf.pdfa.PDFAValidator;
import org.verapdf.pdfa.flavours.PDFAFlavour;
import org.verapdf.pdfa.results.TestAssertion;
import org.verapdf.pdfa.results.ValidationResult;

public final class VeraPdfServer {
  private static final int MAX_BYTES = Integer.getInteger("verapdf.maxBytes", 512 * 1024 * 1024);
  private static final int MAX_RULES = 20;

  public static void main(String[] args) throws IOException {
    String host = args.length > 0 ? args[0] : "127.0.0.1";
    int port = args.length > 1 ? Integer.parseInt(args[1]) : 13320;
    int threads = args.length > 2 ? Integer.parseInt(args[2]) : 2;
    VeraGreenfieldFoundryProvider.initialise();
    HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 16);
    server.setExecutor(Executors.newFixedThreadPool(threads));
    server.createContext("/health", ex -> reply(ex, 200, "text/plain", "ok veraPDF " + version()));
    server.createContext("/validate", VeraPdfServer::validate);
    server.start();
    System.out.println("veraPDF server listening on " + host + ":" + port + " (" + threads + " threads)");
  }

  private static String version() {
    Package p = PDFAValidator.class.getPackage();
    return p != null && p.getImplementationVersion() != null ? p.getImplementationVersion() : "1.28";
  }

  private static void validate(HttpExchange ex) throws IOException {
    if (!"POST".equals(ex.getRequestMethod())) {
      reply(ex, 405, "text/plain", "POST the PDF");
      return;
    }
    byte[] body = ex.getRequestBody().readNBytes(MAX_BYTES + 1);
    if (body.length > MAX_BYTES) {
      reply(ex, 413, "text/plain", "over " + MAX_BYTES + " bytes");
      return;
    }
    String query = ex.getRequestURI().getQuery();
    String wanted = query != null && query.startsWith("flavour=") ? query.substring(8) : null;
    reply(ex, 200, "application/json", report(body, wanted));
  }

  static String report(byte[] pdf, String wanted) {
    PDFAFlavour declared = null;
    try (PDFAParser probe = Foundries.defaultInstance().createParser(new ByteArrayInputStream(pdf))) {
      PDFAFlavour found = probe.getFlavour();
      declared = found == null || found == PDFAFlavour.NO_FLAVOUR ? null : found;
    } catch (EncryptedPdfException e) {
      return json(null, null, null, List.of(), 0, "encrypted");
    } catch (ModelParsingException e) {
      return json(null, null, null, List.of(), 0, "does not parse: " + e.getMessage());
    } catch (Exception e) {
      declared = null;
    }
    PDFAFlavour flavour = wanted != null ? PDFAFlavour.byFlavourId(wanted) : declared;
    if (flavour == null || flavour == PDFAFlavour.NO_FLAVOUR) {
      return json(null, null, null, List.of(), 0, null);
    }
    try (PDFAParser parser = Foundries.defaultInstance().createParser(new ByteArrayInputStream(pdf), flavour);
        PDFAValidator validator = Foundries.defaultInstance().createValidator(flavour, false)) {
      ValidationResult result = validator.validate(parser);
      Set<String> rules = new LinkedHashSet<>();
      int failed = 0;
      for (TestAssertion a : result.getTestAssertions()) {
        if (a.getStatus() == TestAssertion.Status.FAILED) {
          failed++;
          if (rules.size() < MAX_RULES) {
            rules.add(a.getRuleId().getClause() + "-" + a.getRuleId().getTestNumber());
          }
        }
      }
      return json(declared, flavour, result.isCompliant(), new ArrayList<>(rules), failed, null);
    } catch (Exception e) {
      return json(declared, flavour, null, List.of(), 0, e.getClass().getSimpleName() + ": " + e.getMessage());
    }
  }

  private static String json(
      PDFAFlavour declared, PDFAFlavour flavour, Boolean compliant, List<String> rules, int failed, String error) {
    StringBuilder b = new StringBuilder("{");
    b.append("\"declared\":").append(str(declared == null ? null : declared.getId()));
    b.append(",\"flavour\":").append(str(flavour == null ? null : flavour.getId()));
    b.append(",\"compliant\":").append(compliant == null ? "null" : compliant.toString());
    b.append(",\"failed_checks\":").append(failed);
    b.append(",\"failed_rules\":[");
    for (int i = 0; i < rules.size(); i++) {
      b.append(i > 0 ? "," : "").append(str(rules.get(i)));
    }
    b.append("],\"error\":").append(str(error)).append("}");
    return b.toString();
  }

  private static String str(String s) {
    if (s == null) {
      return "null";
    }
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') {
        b.append('\\').append(c);
      } else if (c < 0x20) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.append('"').toString();
  }

  private static void reply(HttpExchange ex, int status, String type, String text) throws IOException {
    byte[] out = text.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", type + "; charset=utf-8");
    ex.sendResponseHeaders(status, out.length);
    try (OutputStream os = ex.getResponseBody()) {
      os.write(out);
    }
  }
}
