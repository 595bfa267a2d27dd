// Package awscli is the `aws` command of a cutover build: the two ECR
// subcommands a buildspec uses to log the Docker Engine in to the
// registry it pushes to, answered for cutover's built-in registry, and
// every other subcommand handed to a real AWS CLI when one is installed.
//
// cutover binds its own executable into a build as /cutover/bin/aws;
// cmd/cutover runs Main when it is called by that name. The registry and
// the build's credential come from the build's environment:
//
//	CUTOVER_REGISTRY           host:port of the registry, as the Docker Engine reaches it
//	CUTOVER_REGISTRY_PASSWORD  the build's credential: push to and pull from the app's repository only
package awscli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Environment variables the build sets for this command.
const (
	EnvRegistry = "CUTOVER_REGISTRY"
	EnvPassword = "CUTOVER_REGISTRY_PASSWORD"
)

// User is the user name of the credential, as ECR's.
const User = "AWS"

// exitFailure is the AWS CLI's exit status for a failed command.
const exitFailure = 255

// Env is what Main reads of the environment; os.Getenv in a build.
type Env func(key string) string

// Main runs `aws args...` and returns its exit status. ecr get-login and
// ecr get-login-password are answered here; anything else runs a real
// aws found on PATH (other than this executable), or fails saying so.
func Main(args []string, env Env, stdout, stderr io.Writer) int {
	words := positional(args)
	if len(words) >= 2 && words[0] == "ecr" && (words[1] == "get-login" || words[1] == "get-login-password") {
		return ecrLogin(words[1], env, stdout, stderr)
	}
	err := execReal(args, env)
	fmt.Fprintf(stderr, "%s: %v\n", strings.Join(append([]string{"aws"}, words...), " "), err)
	return exitFailure
}

// ecrLogin prints the docker login command (get-login) or the password
// (get-login-password) of the build's registry credential.
func ecrLogin(cmd string, env Env, stdout, stderr io.Writer) int {
	host, password := env(EnvRegistry), env(EnvPassword)
	if host == "" || password == "" {
		fmt.Fprintf(stderr, "aws ecr %s: this build has no registry credential: cutover gives one to pipeline builds "+
			"when its API listens on TCP (the built-in registry is served there)\n", cmd)
		return exitFailure
	}
	if cmd == "get-login-password" {
		fmt.Fprintln(stdout, password)
		return 0
	}
	// No -e: Docker 17.06 and later refuse it, as the real command's
	// --no-include-email avoids; the output is the same with or without.
	fmt.Fprintf(stdout, "docker login -u %s -p %s %s\n", User, password, host)
	return 0
}

// optionsWithValue are the AWS CLI's global options that take a value.
var optionsWithValue = map[string]bool{
	"--region": true, "--profile": true, "--output": true, "--endpoint-url": true, "--query": true,
	"--color": true, "--ca-bundle": true, "--cli-read-timeout": true, "--cli-connect-timeout": true,
	"--cli-binary-format": true, "--registry-ids": true,
}

// positional returns the words of args that are not options or their
// values: the service, the operation and any further words.
func positional(args []string) []string {
	var words []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.HasPrefix(a, "--") && !strings.Contains(a, "=") && optionsWithValue[a]:
			i++
		case strings.HasPrefix(a, "-"):
		default:
			words = append(words, a)
		}
	}
	return words
}

// execReal replaces this process with the first aws on PATH that is not
// this executable; it returns only when there is none or it cannot run.
func execReal(args []string, env Env) error {
	self, _ := os.Executable()
	for _, dir := range filepath.SplitList(env("PATH")) {
		path := filepath.Join(dir, "aws")
		if !isExecutable(path) || sameFile(path, self) {
			continue
		}
		err := syscall.Exec(path, append([]string{"aws"}, args...), os.Environ())
		return fmt.Errorf("running the AWS CLI at %s: %w", path, err)
	}
	return errors.New("cutover's aws answers only `ecr get-login` and `ecr get-login-password` " +
		"(for cutover's built-in registry), and no AWS CLI is installed for the rest")
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}
