package main

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cutover/cutover/internal/acme"
	"github.com/cutover/cutover/internal/api"
)

// acmeFlags are cutover up's ACME settings (docs/internet.md).
type acmeFlags struct {
	ca, email, caRoot string
	renewCheck, retry time.Duration
	challenges        []string
}

func addACMEFlags(cmd *cobra.Command, f *acmeFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.ca, "acme-ca", envOr("CUTOVER_ACME_CA", "letsencrypt"), "ACME CA of listeners with tls: auto: letsencrypt, letsencrypt-staging, or a directory URL (env CUTOVER_ACME_CA)")
	fl.StringVar(&f.email, "acme-email", os.Getenv("CUTOVER_ACME_EMAIL"), "email for the ACME account: the CA's expiry notices (env CUTOVER_ACME_EMAIL)")
	fl.StringVar(&f.caRoot, "acme-ca-root", "", "PEM file of a root certificate to trust for the ACME CA's own HTTPS (a private CA)")
	fl.StringSliceVar(&f.challenges, "acme-challenges", []string{"http-01", "tls-alpn-01"}, "ACME challenge types to use: http-01 (port 80 reaches listeners.http), tls-alpn-01 (port 443 reaches the HTTPS listener), or both")
	fl.DurationVar(&f.renewCheck, "acme-renew-check", acme.DefaultRenewCheck, "how often certificates are checked for renewal")
	fl.DurationVar(&f.retry, "acme-retry", acme.DefaultRetryMin, "first wait after a failed attempt to get a certificate; doubles up to 30m")
}

// settings reads the flags into the data plane's ACME settings.
func (f acmeFlags) settings() (acme.Settings, error) {
	s := acme.Settings{Email: f.email, RenewCheck: f.renewCheck, RetryMin: f.retry}
	switch f.ca {
	case "", "letsencrypt":
		s.CA = acme.LetsEncrypt
	case "letsencrypt-staging", "staging":
		s.CA = acme.LetsEncryptStaging
	default:
		s.CA = f.ca
	}
	s.NoHTTP01, s.NoTLSALPN01 = true, true
	for _, c := range f.challenges {
		switch c {
		case "http-01":
			s.NoHTTP01 = false
		case "tls-alpn-01":
			s.NoTLSALPN01 = false
		default:
			return s, fmt.Errorf("--acme-challenges: %q is not a challenge type; valid: http-01, tls-alpn-01", c)
		}
	}
	if f.caRoot != "" {
		b, err := os.ReadFile(f.caRoot)
		if err != nil {
			return s, fmt.Errorf("--acme-ca-root: %w", err)
		}
		s.CARoots = string(b)
	}
	if err := s.Validate(); err != nil {
		return s, fmt.Errorf("ACME settings (--acme-*): %w", err)
	}
	return s, nil
}

func newCertsCmd(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "certs",
		Short: "List the ACME certificates of listeners with tls: auto, their expiry and errors",
		Long: `List every host of a listener with tls: auto: the state of its certificate
(obtaining, failed, valid, expired), when it expires, who issued it, and the
last error getting or renewing it with when the next attempt is.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			certs, err := c.Certificates(cmd.Context())
			if err != nil {
				return err
			}
			return printJSONOr(cmd, g, certs, func() { printCerts(cmd, certs) })
		},
	}
}

func printCerts(cmd *cobra.Command, certs []api.Certificate) {
	out := cmd.OutOrStdout()
	if len(certs) == 0 {
		fmt.Fprintln(out, "no certificates: no listener has tls: auto")
		return
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tSTATE\tEXPIRES\tISSUER\tERROR")
	for _, c := range certs {
		exp, errText := "-", "-"
		if c.NotAfter != nil {
			exp = c.NotAfter.UTC().Format(time.RFC3339) + " (in " + time.Until(*c.NotAfter).Round(time.Second).String() + ")"
		}
		if c.Error != "" {
			errText = fmt.Sprintf("%s (%d failed", c.Error, c.Failures)
			if c.NextAttempt != nil {
				errText += ", next try " + c.NextAttempt.UTC().Format(time.RFC3339)
			}
			errText += ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.Host, c.State, exp, orDash(c.Issuer), errText)
	}
	tw.Flush()
}
