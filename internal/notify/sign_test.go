package notify

import "testing"

func TestSign(t *testing.T) {
	// RFC 4231, test case 2.
	got := Sign([]byte("Jefe"), []byte("what do ya want for nothing?"))
	want := "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	if got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	secret, body := []byte("s3cret"), []byte(`{"event":"deployment.succeeded"}`)
	good := Sign(secret, body)
	tests := []struct {
		name      string
		secret    string
		body      string
		signature string
		want      bool
	}{
		{"valid", "s3cret", string(body), good, true},
		{"other secret", "s3cre7", string(body), good, false},
		{"body changed", "s3cret", `{"event":"deployment.failed"}`, good, false},
		{"no prefix", "s3cret", string(body), good[len("sha256="):], false},
		{"sha1 prefix", "s3cret", string(body), "sha1=" + good[len("sha256="):], false},
		{"not hex", "s3cret", string(body), "sha256=zz", false},
		{"empty", "s3cret", string(body), "", false},
		{"truncated", "s3cret", string(body), good[:len(good)-2], false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Verify([]byte(tt.secret), []byte(tt.body), tt.signature); got != tt.want {
				t.Errorf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
}
