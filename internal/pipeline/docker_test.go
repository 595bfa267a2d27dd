package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/client"
)

// TestDockerImages builds images through the Docker Engine on this
// machine, from scratch so that nothing is pulled.
func TestDockerImages(t *testing.T) {
	ctx := context.Background()
	cli, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
		t.Skipf("no Docker Engine: %v", err)
	}
	b := make([]byte, 4)
	rand.Read(b)
	tag := "cutover-pipeline-test:" + hex.EncodeToString(b)

	tests := []struct {
		name, dockerfile, wantErr string
	}{
		{"builds", "FROM scratch\nCOPY hello.txt /hello.txt\n", ""},
		{"fails", "FROM scratch\nCOPY missing.txt /\n", "missing.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(tt.dockerfile), 0o644)
			os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello\n"), 0o644)
			os.MkdirAll(filepath.Join(dir, ".git"), 0o755)
			var log strings.Builder
			err := DockerImages{Client: cli}.BuildImage(ctx, dir, "Dockerfile", tag, &log)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("BuildImage = %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("BuildImage: %v\n%s", err, log.String())
			}
			defer cli.ImageRemove(ctx, tag, client.ImageRemoveOptions{Force: true})
			if _, err := cli.ImageInspect(ctx, tag); err != nil {
				t.Fatalf("the image %s is not there: %v", tag, err)
			}
			if !strings.Contains(log.String(), "COPY hello.txt") {
				t.Errorf("the build's output is not in the log:\n%s", log.String())
			}
		})
	}
}
