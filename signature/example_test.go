package signature_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	"github.com/hookline/hookline/signature"
)

// A receiver verifies every webhook before acting on it. It makes the Signer
// once from the endpoint's secret, reads the raw body, and answers 401 to a
// request whose signature or timestamp does not check out.
func Example_receiver() {
	// The endpoint's secret, as shown by GET /v1/endpoints/{id}/secret.
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	signer, err := signature.NewSigner(secret)
	if err != nil {
		log.Fatal(err)
	}

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Verify the exact bytes received, before any decoding.
		payload, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if err := signer.Verify(r.Header, payload, time.Now()); err != nil {
			if errors.Is(err, signature.ErrTimestamp) {
				log.Printf("webhook from another time, or a replay: %v", err)
			}
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		// r.Header.Get(signature.HeaderID) is the same for every attempt
		// of a message: skip a message already handled, then handle it.
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(handler)
	defer srv.Close()

	// What Hookline sends, and the same request with its body altered.
	send := func(body string, signed []byte) int {
		now := time.Now()
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader([]byte(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(signature.HeaderID, "evt_01HZXW3N1Q8R5T6V7W8X9Y0Z1A")
		req.Header.Set(signature.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
		req.Header.Set(signature.HeaderSignature, signer.Sign("evt_01HZXW3N1Q8R5T6V7W8X9Y0Z1A", now, signed))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	body := `{"id":"evt_01HZXW3N1Q8R5T6V7W8X9Y0Z1A","type":"invoice.paid","timestamp":"2024-06-01T12:00:00Z","data":{"amount":100}}`
	fmt.Println(send(body, []byte(body)))
	fmt.Println(send(body+" ", []byte(body)))
	// Output:
	// 204
	// 401
}

// Sign computes the webhook-signature header of the example message published
// with the Standard Webhooks specification.
func ExampleSigner_Sign() {
	signer, err := signature.NewSigner("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		log.Fatal(err)
	}
	ts := time.Unix(1614265330, 0)
	fmt.Println(signer.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", ts, []byte(`{"test": 2432232314}`)))
	// Output:
	// v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}

// Verify checks one message with a secret and a tolerance of its own; here
// the message arrives ten minutes after it was signed.
func ExampleVerify() {
	h := http.Header{}
	h.Set(signature.HeaderID, "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set(signature.HeaderTimestamp, "1614265330")
	h.Set(signature.HeaderSignature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	payload := []byte(`{"test": 2432232314}`)
	arrived := time.Unix(1614265330, 0).Add(10 * time.Minute)

	err := signature.Verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", h, payload, arrived, 0)
	fmt.Println(errors.Is(err, signature.ErrTimestamp), err)
	err = signature.Verify("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", h, payload, arrived, 15*time.Minute)
	fmt.Println(err)
	// Output:
	// true signature: webhook-timestamp outside the tolerance: 10m0s old
	// <nil>
}

// A secret that does not parse gives an error to show the person who typed it.
func ExampleParseSecret() {
	_, err := signature.ParseSecret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	fmt.Println(err)
	// Output:
	// secret must start with whsec_
}

// An endpoint with signature_scheme v1a is signed with ed25519: Hookline
// keeps its "whsk_" secret key, and the receiver verifies with the "whpk_"
// public key that GET /v1/endpoints/{id}/secret shows, which cannot sign.
// During a key rotation the header carries a signature by each key, newest
// first; the receiver accepts the message when one is by a key it trusts.
func ExamplePublicKey_Verify() {
	// What the receiver holds: the public key.
	key, err := signature.ParsePublicKey("whpk_AihwwFyeHXYXo2kags7ENH6B77XV2+JioOx5JeE7BRY=")
	if err != nil {
		log.Fatal(err)
	}

	// What Hookline sends, signed with the new key and the key it replaces.
	newKey, _ := signature.NewSigner(signature.GenerateSecretKey())
	oldKey, _ := signature.NewSigner("whsk_SzGQK/nMthdR8KybCMlhqlFzrOd0gbuoUlactpCRVOUCKHDAXJ4ddhejaRqCzsQ0foHvtdXb4mKg7Hkl4TsFFg==")
	fmt.Println(oldKey.PublicKey() == key.String())
	payload := []byte(`{"test": 2432232314}`)
	sent := time.Unix(1614265330, 0)
	h := http.Header{}
	h.Set(signature.HeaderID, "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set(signature.HeaderTimestamp, strconv.FormatInt(sent.Unix(), 10))
	h.Set(signature.HeaderSignature, string(signature.AppendSignatures(nil, "msg_p5jXN8AQM9LWM0D4loKWxJek", sent.Unix(), payload, newKey, oldKey)))

	fmt.Println(key.Verify(h, payload, sent.Add(time.Minute)))
	fmt.Println(key.Verify(h, []byte(`{"test": 1}`), sent.Add(time.Minute)))
	// Output:
	// true
	// <nil>
	// signature: no matching signature
}
