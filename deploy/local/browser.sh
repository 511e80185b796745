#!/usr/bin/env bash
# Installs the headless browser the dashboard's browser test drives: Debian's chromium and its
# chromedriver, and a CJK font (apt, no downloads from elsewhere). Idempotent: does nothing when both are present.
#   deploy/local/browser.sh          install if missing, then print the versions
set -euo pipefail

AA_LOCAL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
AA_LIB_DIR="$AA_LOCAL_DIR/lib"
AA_REPO_ROOT=$(cd "$AA_LOCAL_DIR/../.." && pwd)
# shellcheck source=stack.env
source "$AA_LOCAL_DIR/stack.env"
# shellcheck source=lib/common.sh
source "$AA_LIB_DIR/common.sh"

# A CJK font, so that the screenshot the test keeps shows the dashboard's Chinese labels.
if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver && -d /usr/share/fonts/truetype/wqy ]]; then
  exit 0
fi
mkdir -p "$AA_LOGS"
apt_install chromium chromium-driver fonts-wqy-zenhei || {
  warn "browser: chromium could not be installed; the dashboard's browser test needs it (apt log above)"
  exit 1
}
say "browser: $(/usr/bin/chromium --version 2>/dev/null | head -n1), $(/usr/bin/chromedriver --version | head -n1)"
