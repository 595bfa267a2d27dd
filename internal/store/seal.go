package store

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Secrets that cutover must be able to read back (pipeline and webhook
// secrets) are kept encrypted in the database with AES-256-GCM, the
// standard library's authenticated encryption, under a key in a file of
// its own next to the database (KeyFileName, mode 0600). A copy of the
// database, its WAL or a backup then gives no secret without the key.

// KeyFileName is the file of the key that seals secrets, next to the
// database.
const KeyFileName = "secrets.key"

// sealedPrefix marks a sealed value; anything else is a value stored in
// clear by an older cutover, sealed on Open.
const sealedPrefix = "sealed:v1:"

type sealer struct {
	aead cipher.AEAD
}

// loadSealer reads the key next to the database at dbPath, making it on
// first use.
func loadSealer(dbPath string) (*sealer, error) {
	path := filepath.Join(filepath.Dir(dbPath), KeyFileName)
	key, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("making the secrets key: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("writing the secrets key: %w", err)
		}
		_, err = f.Write(key)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
			return nil, fmt.Errorf("writing the secrets key: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("reading the secrets key: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("the secrets key %s has %d bytes, want 32", path, len(key))
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, fmt.Errorf("restricting the secrets key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// seal encrypts a secret; "" stays "".
func (s *sealer) seal(plain string) string {
	if plain == "" {
		return ""
	}
	nonce := make([]byte, s.aead.NonceSize())
	rand.Read(nonce)
	out := s.aead.Seal(nonce, nonce, []byte(plain), nil)
	return sealedPrefix + base64.StdEncoding.EncodeToString(out)
}

// open decrypts a sealed secret; a value kept in clear is returned as is.
func (s *sealer) open(v string) (string, error) {
	raw, ok := strings.CutPrefix(v, sealedPrefix)
	if !ok {
		return v, nil
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(b) < s.aead.NonceSize() {
		return "", errors.New("a sealed secret is damaged")
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, b[:n], b[n:], nil)
	if err != nil {
		return "", fmt.Errorf("a sealed secret does not open with %s: %w", KeyFileName, err)
	}
	return string(plain), nil
}

// sealClearSecrets seals the pipeline secrets an older cutover kept in
// clear.
func (s *Store) sealClearSecrets(ctx context.Context) error {
	return s.write(ctx, "sealing secrets", func(t *tx) error {
		rows, err := t.QueryContext(ctx, "SELECT app, secret FROM pipelines WHERE secret != '' AND secret NOT LIKE 'sealed:%'")
		if err != nil {
			return err
		}
		clear := map[string]string{}
		for rows.Next() {
			var app, secret string
			if err := rows.Scan(&app, &secret); err != nil {
				rows.Close()
				return err
			}
			clear[app] = secret
		}
		rows.Close()
		for app, secret := range clear {
			if _, err := t.ExecContext(ctx, "UPDATE pipelines SET secret = ? WHERE app = ?", s.sealer.seal(secret), app); err != nil {
				return err
			}
		}
		return nil
	})
}
