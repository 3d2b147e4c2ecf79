package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// readSecrets reads the secrets given in files (the *_file keys) into
// their keys, so that the rest of routerd sees only the secrets. Validate
// runs it first: a config validated again (Load, then Reload) reads the
// files again, which is how a reload picks up a rotated secret.
func (c *Config) readSecrets(p *problems) {
	n := &c.Bus.NATS
	readSecret(p, "bus.nats.token", &n.Token, n.TokenFile, &n.tokenFrom)
	readSecret(p, "bus.nats.password", &n.Password, n.PasswordFile, &n.passwordFrom)
	cl := &n.Cluster
	readSecret(p, "bus.nats.cluster.password", &cl.Password, cl.PasswordFile, &cl.passwordFrom)
	for i := range c.HTTP.Auth.SigV4 {
		k := &c.HTTP.Auth.SigV4[i]
		readSecret(p, fmt.Sprintf("http.auth.sigv4[%d].secret_access_key", i), &k.SecretAccessKey, k.SecretAccessKeyFile, &k.secretFrom)
	}
}

// readSecret reads the secret at key from file, when file is set, into
// *value; *from remembers the file it came from, which tells a value read
// before from one set beside the file. The file holds the secret alone:
// trailing newlines (echo's, an editor's) are trimmed, nothing else.
func readSecret(p *problems, key string, value *string, file string, from *string) {
	fileKey := key + "_file"
	if file == "" {
		if *from != "" { // read from a file no longer named
			*value, *from = "", ""
		}
		return
	}
	if *value != "" && *from != file {
		// The problem is at fileKey, whose variable Load names; the one
		// that set key is named here, or the error would point at a file
		// that does not hold the value.
		p.add(fileKey, "set %s or %s, not both", keyFrom(key, envSetting(key)), fileKey)
		return
	}
	data, err := os.ReadFile(file)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		p.add(fileKey, "cannot read %s: %v", file, err)
		return
	}
	secret := strings.TrimRight(string(data), "\r\n")
	if secret == "" {
		p.add(fileKey, "%s is empty", file)
		return
	}
	*value, *from = secret, file
}
