package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// APITokenPrefix starts every API token, so that a token is recognisable
// (in a leaked file, by a secret scanner) and told apart from a JWT or
// the static read token without a database lookup.
const APITokenPrefix = "emgd_"

// randomToken returns 32 random bytes in unpadded URL-safe base64.
func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// NewAPIToken returns a fresh API token (shown once to its owner) and the
// hash the database keeps.
func NewAPIToken() (token, hash string) {
	token = APITokenPrefix + randomToken()
	return token, TokenHash(token)
}

// TokenHash is what the database stores of a session cookie or an API
// token: its hex SHA-256. The tokens carry 256 random bits, so a fast hash
// suffices (nothing to guess), and lookups stay one indexed read.
func TokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// constantEqual compares two secrets in time independent of where they
// differ (their lengths may leak, not their contents).
func constantEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// looksLikeJWT reports whether s has the three dot-separated parts of a
// compact JWS.
func looksLikeJWT(s string) bool { return strings.Count(s, ".") == 2 }
