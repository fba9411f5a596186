package signature_test

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookline/hookline/signature"
)

// benchPayload is a 1 KiB body, a typical webhook.
var benchPayload = bytes.Repeat([]byte(`{"k":"v"},`), 103)[:1024]

const benchID = "evt_01HZXW3N1Q8R5T6V7W8X9Y0Z1A"

func BenchmarkSign(b *testing.B) {
	s := mustSigner(b, specSecret)
	ts := time.Unix(specTimestamp, 0)
	b.SetBytes(int64(len(benchPayload)))
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Sign(benchID, ts, benchPayload)
	}
}

func BenchmarkAppendSignature(b *testing.B) {
	s := mustSigner(b, specSecret)
	buf := make([]byte, 0, 64)
	b.SetBytes(int64(len(benchPayload)))
	b.ReportAllocs()
	for b.Loop() {
		buf = s.AppendSignature(buf[:0], benchID, specTimestamp, benchPayload)
	}
}

// BenchmarkAppendSignatureParallel shows the pool of keyed hashes scaling
// across the delivery workers.
func BenchmarkAppendSignatureParallel(b *testing.B) {
	s := mustSigner(b, specSecret)
	b.SetBytes(int64(len(benchPayload)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 0, 64)
		for pb.Next() {
			buf = s.AppendSignature(buf[:0], benchID, specTimestamp, benchPayload)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	s := mustSigner(b, specSecret)
	ts := time.Unix(specTimestamp, 0)
	h := http.Header{}
	h.Set(signature.HeaderID, benchID)
	h.Set(signature.HeaderTimestamp, "1614265330")
	h.Set(signature.HeaderSignature, s.Sign(benchID, ts, benchPayload))
	b.SetBytes(int64(len(benchPayload)))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Verify(h, benchPayload, ts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignStandardWebhooks is the official library signing the same
// message, for comparison.
func BenchmarkSignStandardWebhooks(b *testing.B) {
	wh, err := standardwebhooks.NewWebhook(specSecret)
	if err != nil {
		b.Fatal(err)
	}
	ts := time.Unix(specTimestamp, 0)
	b.SetBytes(int64(len(benchPayload)))
	b.ReportAllocs()
	for b.Loop() {
		_, _ = wh.Sign(benchID, ts, benchPayload)
	}
}

// BenchmarkAppendSignaturesRotating signs with two HMAC keys, as during a
// secret rotation.
func BenchmarkAppendSignaturesRotating(b *testing.B) {
	cur, prev := mustSigner(b, signature.GenerateSecret()), mustSigner(b, specSecret)
	buf := make([]byte, 0, 128)
	b.SetBytes(int64(len(benchPayload)))
	b.ReportAllocs()
	for b.Loop() {
		buf = signature.AppendSignatures(buf[:0], benchID, specTimestamp, benchPayload, cur, prev)
	}
}

// BenchmarkAppendSignaturesOne is AppendSignatures with one key, the hot
// path of an endpoint outside a rotation.
func BenchmarkAppendSignaturesOne(b *testing.B) {
	s := mustSigner(b, specSecret)
	buf := make([]byte, 0, 64)
	b.SetBytes(int64(len(benchPayload)))
	b.ReportAllocs()
	for b.Loop() {
		buf = signature.AppendSignatures(buf[:0], benchID, specTimestamp, benchPayload, s)
	}
}

func BenchmarkAppendSignatureV1a(b *testing.B) {
	s := mustSigner(b, vecSecretKey)
	buf := make([]byte, 0, 128)
	b.SetBytes(int64(len(benchPayload)))
	b.ReportAllocs()
	for b.Loop() {
		buf = s.AppendSignature(buf[:0], benchID, specTimestamp, benchPayload)
	}
}

func BenchmarkVerifyV1a(b *testing.B) {
	s := mustSigner(b, vecSecretKey)
	k := mustPublicKey(b, vecPublicKey)
	ts := time.Unix(specTimestamp, 0)
	h := http.Header{}
	h.Set(signature.HeaderID, benchID)
	h.Set(signature.HeaderTimestamp, "1614265330")
	h.Set(signature.HeaderSignature, s.Sign(benchID, ts, benchPayload))
	b.SetBytes(int64(len(benchPayload)))
	b.ReportAllocs()
	for b.Loop() {
		if err := k.Verify(h, benchPayload, ts); err != nil {
			b.Fatal(err)
		}
	}
}
