package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMissingCAFile: `agentdesk serve` with a CA file that does not exist
// stops at once with a message naming AGENTDESK_EM_CA_FILE.
func TestMissingCAFile(t *testing.T) {
	cmd := exec.Command(binary, "serve")
	cmd.Env = []string{
		"AGENTDESK_ADDR=127.0.0.1:0", "AGENTDESK_PUBLIC_URL=http://127.0.0.1:1/",
		"AGENTDESK_DATA_DIR=" + t.TempDir(),
		"AGENTDESK_EM_URL=https://127.0.0.1:1", "AGENTDESK_EM_USER=svc", "AGENTDESK_EM_PASSWORD=secret",
		"AGENTDESK_EM_CA_FILE=" + filepath.Join(t.TempDir(), "missing-ca.pem"),
		"AGENTDESK_OIDC_ISSUER=http://127.0.0.1:1", "AGENTDESK_OIDC_CLIENT_ID=agentdesk", "AGENTDESK_OIDC_CLIENT_SECRET=x",
	}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("serve started with a missing CA file:\n%s", out)
	}
	if !strings.Contains(string(out), "AGENTDESK_EM_CA_FILE") || strings.Contains(string(out), "emclient:") {
		t.Errorf("start-up error does not name AGENTDESK_EM_CA_FILE in plain words:\n%s", out)
	}
}
