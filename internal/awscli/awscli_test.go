package awscli

import (
	"strings"
	"testing"
)

func envOf(m map[string]string) Env { return func(k string) string { return m[k] } }

func TestECRLogin(t *testing.T) {
	env := envOf(map[string]string{EnvRegistry: "127.0.0.1:9190", EnvPassword: "cob_secret", "PATH": t.TempDir()})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"ecr", "get-login", "--region", "local"}, "docker login -u AWS -p cob_secret 127.0.0.1:9190\n"},
		{[]string{"--region=local", "ecr", "get-login", "--no-include-email"}, "docker login -u AWS -p cob_secret 127.0.0.1:9190\n"},
		{[]string{"--region", "local", "ecr", "get-login-password"}, "cob_secret\n"},
	} {
		var out, errOut strings.Builder
		if code := Main(tc.args, env, &out, &errOut); code != 0 || out.String() != tc.want {
			t.Errorf("aws %v = %d %q (stderr %q), want 0 %q", tc.args, code, out.String(), errOut.String(), tc.want)
		}
	}
}

func TestWithoutCredentialOrRealCLI(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"ecr", "get-login"}, map[string]string{}, "this build has no registry credential"},
		{[]string{"s3", "ls"}, map[string]string{"PATH": t.TempDir()}, "no AWS CLI is installed"},
	} {
		var out, errOut strings.Builder
		code := Main(tc.args, envOf(tc.env), &out, &errOut)
		if code != exitFailure || out.Len() != 0 || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("aws %v = %d %q %q, want %d and %q", tc.args, code, out.String(), errOut.String(), exitFailure, tc.want)
		}
	}
}
