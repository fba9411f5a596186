package secretbox_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/secretbox"
)

var (
	key1 = bytes.Repeat([]byte{1}, secretbox.KeySize)
	key2 = bytes.Repeat([]byte{2}, secretbox.KeySize)
	key3 = bytes.Repeat([]byte{3}, secretbox.KeySize)
)

const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func mustBox(t testing.TB, current []byte, previous ...[]byte) *secretbox.Box {
	t.Helper()
	b, err := secretbox.New(current, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	b := mustBox(t, key1)
	sealed := b.Seal(secret, "ep_1")
	if !strings.HasPrefix(sealed, "aesgcm:"+secretbox.KeyID(key1)+":") || !secretbox.IsSealed(sealed) {
		t.Fatalf("sealed %q, want aesgcm:<key ID>:…", sealed)
	}
	if strings.Contains(sealed, secret[len("whsec_"):]) || strings.Contains(sealed, "whsec_") {
		t.Fatalf("sealed %q holds the secret", sealed)
	}
	if got, err := b.Open(sealed, "ep_1"); err != nil || got != secret {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if again := b.Seal(secret, "ep_1"); again == sealed {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}
	if !b.Current(sealed) {
		t.Error("Current(a value sealed with the current key) = false")
	}
	// Another context does not open it: a value copied into another row.
	if _, err := b.Open(sealed, "ep_2"); !errors.Is(err, secretbox.ErrOpen) {
		t.Errorf("Open in another context = %v, want ErrOpen", err)
	}
	// Empty stays empty; plain values open as they are and need sealing.
	if b.Seal("", "ep_1") != "" {
		t.Error("Seal of \"\" is not \"\"")
	}
	if got, err := b.Open(secret, "ep_1"); err != nil || got != secret {
		t.Errorf("Open of a plain value = %q, %v", got, err)
	}
	if b.Current(secret) || !b.Current("") {
		t.Error("Current: a plain value counts as sealed, or \"\" as needing a seal")
	}
}

func TestTampered(t *testing.T) {
	t.Parallel()
	b := mustBox(t, key1)
	sealed := b.Seal(secret, "ep_1")
	body := sealed[strings.LastIndex(sealed, ":")+1:]
	raw, _ := base64.StdEncoding.DecodeString(body)
	for i := range raw {
		bad := bytes.Clone(raw)
		bad[i] ^= 0x80
		v := sealed[:len(sealed)-len(body)] + base64.StdEncoding.EncodeToString(bad)
		if _, err := b.Open(v, "ep_1"); !errors.Is(err, secretbox.ErrOpen) {
			t.Fatalf("byte %d flipped: Open = %v, want ErrOpen", i, err)
		}
	}
	for _, v := range []string{
		"aesgcm:", "aesgcm:" + secretbox.KeyID(key1), "aesgcm:short:AAAA", "aesgcm:" + secretbox.KeyID(key1) + ":!!!",
		"aesgcm:" + secretbox.KeyID(key1) + ":" + base64.StdEncoding.EncodeToString(raw[:20]),
	} {
		if got, err := b.Open(v, "ep_1"); err == nil {
			t.Errorf("Open(%q) = %q, want an error", v, got)
		}
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	old := mustBox(t, key1)
	sealedOld := old.Seal(secret, "ep_1")

	b := mustBox(t, key2, key1)
	if got, err := b.Open(sealedOld, "ep_1"); err != nil || got != secret {
		t.Fatalf("Open of a value sealed with a previous key = %q, %v", got, err)
	}
	if b.Current(sealedOld) {
		t.Error("a value sealed with a previous key counts as current")
	}
	sealedNew := b.Seal(secret, "ep_1")
	if !strings.HasPrefix(sealedNew, "aesgcm:"+secretbox.KeyID(key2)+":") || !b.Current(sealedNew) || b.KeyID() != secretbox.KeyID(key2) {
		t.Fatalf("sealed %q with key ID %s, want the current key %s", sealedNew, b.KeyID(), secretbox.KeyID(key2))
	}

	// Without the old key, its values are a clear error naming its ID.
	if _, err := mustBox(t, key2).Open(sealedOld, "ep_1"); !errors.Is(err, secretbox.ErrUnknownKey) ||
		!strings.Contains(err.Error(), secretbox.KeyID(key1)) {
		t.Errorf("Open without the sealing key = %v, want ErrUnknownKey naming %s", err, secretbox.KeyID(key1))
	}
	var none *secretbox.Box
	if _, err := none.Open(sealedOld, "ep_1"); !errors.Is(err, secretbox.ErrUnknownKey) {
		t.Errorf("Open with no box = %v, want ErrUnknownKey", err)
	}
	if none.Seal(secret, "ep_1") != secret || !none.Current(secret) || none.Current(sealedOld) || none.KeyID() != "" {
		t.Error("a nil box does not store values in plain")
	}

	// No current key: values are opened with the previous ones and stored
	// in plain again.
	off := mustBox(t, nil, key1, key2)
	if off.Seal(secret, "ep_1") != secret || off.Current(sealedOld) || off.Current(sealedNew) || !off.Current(secret) || off.KeyID() != "" {
		t.Error("a box without a current key does not store values in plain")
	}
	for _, v := range []string{sealedOld, sealedNew} {
		if got, err := off.Open(v, "ep_1"); err != nil || got != secret {
			t.Errorf("Open with the previous keys = %q, %v", got, err)
		}
	}
	if _, err := mustBox(t, key3, key1).Open(sealedNew, "ep_1"); !errors.Is(err, secretbox.ErrUnknownKey) {
		t.Errorf("Open with neither key = %v, want ErrUnknownKey", err)
	}
	// A key given twice counts once.
	if twice := mustBox(t, key1, key1, key2); twice.KeyID() != secretbox.KeyID(key1) || !twice.Current(sealedOld) {
		t.Error("a key given as current and previous")
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	good := base64.StdEncoding.EncodeToString(key1)
	for _, s := range []string{good, "  " + good + "\n"} {
		if k, err := secretbox.ParseKey(s); err != nil || !bytes.Equal(k, key1) {
			t.Errorf("ParseKey(%q) = %x, %v", s, k, err)
		}
	}
	for _, s := range []string{
		"", "hunter2", base64.StdEncoding.EncodeToString(key1[:16]), base64.StdEncoding.EncodeToString(append(key1, 1)),
		base64.RawStdEncoding.EncodeToString(key1), base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)),
		good[:20] + "\n" + good[20:],
	} {
		_, err := secretbox.ParseKey(s)
		if err == nil {
			t.Errorf("ParseKey(%q) succeeded", s)
			continue
		}
		if len(s) > 8 && strings.Contains(err.Error(), strings.TrimSpace(s)[:8]) {
			t.Errorf("ParseKey error %q quotes the key", err)
		}
		if !strings.Contains(err.Error(), "32") {
			t.Errorf("ParseKey error %q does not say what a key is", err)
		}
	}
	if _, err := secretbox.New(key1[:16]); err == nil {
		t.Error("New with a 16-byte key succeeded")
	}
	if _, err := secretbox.New(key1, key2[:31]); err == nil {
		t.Error("New with a short previous key succeeded")
	}
	if secretbox.KeyID(key1) == secretbox.KeyID(key2) || len(secretbox.KeyID(key1)) != 8 {
		t.Errorf("key IDs %q, %q", secretbox.KeyID(key1), secretbox.KeyID(key2))
	}
}

// FuzzOpen feeds arbitrary stored values to Open, as a tampered database
// would: it never panics, opens only what the box sealed (or plain values,
// as they are), and what Seal makes always opens.
func FuzzOpen(f *testing.F) {
	b := mustBox(f, key1, key2)
	f.Add(b.Seal(secret, "ep_1"), "ep_1", secret)
	f.Add(mustBox(f, key2).Seal("x", "ep_2"), "ep_2", "")
	f.Add("aesgcm:"+secretbox.KeyID(key1)+":AAAA", "", "whsk_")
	f.Add("aesgcm::", "ep", "\x00")
	f.Fuzz(func(t *testing.T, stored, context, plain string) {
		got, err := b.Open(stored, context)
		if err == nil && secretbox.IsSealed(stored) && b.Seal(got, context) == stored {
			t.Fatalf("Open(%q) = %q, and a fresh seal repeats the value: the nonce is not random", stored, got)
		}
		if err == nil && !secretbox.IsSealed(stored) && got != stored {
			t.Fatalf("Open of plain %q = %q", stored, got)
		}
		sealed := b.Seal(plain, context)
		if back, err := b.Open(sealed, context); err != nil || back != plain {
			t.Fatalf("Open(Seal(%q)) = %q, %v", plain, back, err)
		}
		if plain != "" && !b.Current(sealed) {
			t.Fatalf("Seal(%q) is not current", plain)
		}
		if plain != "" {
			if _, err := b.Open(sealed, context+"x"); err == nil {
				t.Fatalf("a value sealed for %q opens for another context", context)
			}
		}
	})
}
