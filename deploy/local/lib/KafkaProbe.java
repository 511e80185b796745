// Health probe for the local Kafka node: a real metadata round trip
// (DescribeCluster) through the Admin client from the cached Kafka jars.
// An open port alone is not enough: the broker accepts TCP before it can
// serve metadata. Compiled once into the Kafka cache by lib/kafka.sh.
//
// With --warm it also asks for a consumer group's committed offsets, which
// makes the broker create __consumer_offsets now instead of during the
// first test (best effort: a failure there only prints a warning).
//
// Usage: java -cp '<libs>/*:<probe dir>' KafkaProbe 127.0.0.1:19092 [--warm]
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ListConsumerGroupOffsetsOptions;

public class KafkaProbe {
    public static void main(String[] args) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "8000");
        try (Admin admin = Admin.create(p)) {
            DescribeClusterResult c = admin.describeCluster();
            String id = c.clusterId().get(10, TimeUnit.SECONDS);
            int brokers = c.nodes().get(10, TimeUnit.SECONDS).size();
            System.out.println("cluster " + id + ", " + brokers + " broker(s)");
            if (brokers == 0) System.exit(1);
            if (args.length > 1 && args[1].equals("--warm")) {
                try {
                    admin.listConsumerGroupOffsets("aa-stack-healthcheck",
                            new ListConsumerGroupOffsetsOptions().timeoutMs(30000))
                        .partitionsToOffsetAndMetadata().get(35, TimeUnit.SECONDS);
                    System.out.println("group coordinator ready");
                } catch (Exception e) {
                    System.err.println("warning: group coordinator not ready yet: " + e);
                }
            }
            System.exit(0);
        } catch (Exception e) {
            System.err.println("metadata request failed: " + e);
            System.exit(1);
        }
    }
}
