package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/eventrouter/eventrouter/internal/client"
	"github.com/eventrouter/eventrouter/internal/patterntest"
)

// The standard AWS environment variables, read as the AWS SDKs and CLI
// read them, for a routerd that knows the key (http.auth.sigv4).
const (
	envAccessKeyID     = "AWS_ACCESS_KEY_ID"
	envSecretAccessKey = "AWS_SECRET_ACCESS_KEY"
	envSessionToken    = "AWS_SESSION_TOKEN"
)

// sigv4Flags are the flags that sign with an AWS access key, which
// --token excludes.
var sigv4Flags = []string{"access-key-id", "secret-access-key", "region"}

// client returns the routerd client an online command uses, authenticated
// as the flags say:
//   - --token: a bearer API key;
//   - --access-key-id and --secret-access-key (and --region): SigV4;
//   - neither: SigV4 with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
//     AWS_SESSION_TOKEN when they are set, as the AWS SDKs do; else no
//     credentials, for a routerd without http.auth.
//
// --token with a SigV4 flag, one of the key's two flags without the
// other, or only one of the two variables, is a usage error.
func (g *globals) client(cmd *cobra.Command) (*client.Client, error) {
	f := cmd.Flags()
	var given []string
	for _, name := range sigv4Flags {
		if f.Changed(name) {
			given = append(given, "--"+name)
		}
	}
	c := client.New(g.endpoint, g.token)
	if f.Changed("token") {
		if len(given) > 0 {
			return nil, &patterntest.InputError{What: "--token", Err: fmt.Errorf(
				"a bearer API key cannot go with %s, which sign with an AWS access key (SigV4): give one or the other", strings.Join(given, " and "))}
		}
		return c, nil
	}
	key := &client.SigV4{Region: g.region}
	switch {
	case f.Changed("access-key-id") || f.Changed("secret-access-key"):
		switch {
		case g.accessKeyID == "":
			return nil, &patterntest.InputError{What: "--access-key-id", Err: errors.New(
				"missing or empty: --secret-access-key needs the access key id it belongs to")}
		case g.secretAccessKey == "":
			return nil, &patterntest.InputError{What: "--secret-access-key", Err: errors.New(
				"missing or empty: --access-key-id needs its secret to sign with")}
		}
		key.AccessKeyID, key.SecretAccessKey, key.From = g.accessKeyID, g.secretAccessKey, "--access-key-id"
	default:
		id, secret := os.Getenv(envAccessKeyID), os.Getenv(envSecretAccessKey)
		switch {
		case id != "" && secret != "":
			key.AccessKeyID, key.SecretAccessKey, key.From = id, secret, envAccessKeyID
			key.SessionToken = os.Getenv(envSessionToken)
		case id != "" || secret != "":
			set, unset := envAccessKeyID, envSecretAccessKey
			if id == "" {
				set, unset = unset, set
			}
			return nil, &patterntest.InputError{What: "credentials", Err: fmt.Errorf(
				"%s is set but %s is not: set both to sign with an AWS access key, or neither", set, unset)}
		case f.Changed("region"):
			return nil, &patterntest.InputError{What: "--region", Err: fmt.Errorf(
				"signs nothing without an access key: give --access-key-id and --secret-access-key, or set %s and %s", envAccessKeyID, envSecretAccessKey)}
		default:
			return c, nil // no credentials
		}
	}
	c.SigV4 = key
	return c, nil
}
