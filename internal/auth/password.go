package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// Passwords are stored as argon2id (RFC 9106) PHC strings:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// salt and hash in unpadded standard base64. The parameters are OWASP's
// first recommendation for argon2id (19 MiB, 2 passes, 1 lane); each
// string carries its own, so stronger ones can be adopted later without
// invalidating stored passwords.

// Argon2Params are the argon2id cost parameters of a new hash.
type Argon2Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
	SaltLen   int
	KeyLen    uint32
}

// DefaultArgon2 are the parameters HashPassword uses.
var DefaultArgon2 = Argon2Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Limits on what a stored PHC string may ask for: a hash from elsewhere
// (or a corrupted row) cannot make a login allocate gigabytes or spin.
const (
	maxArgonMemoryKiB = 1 << 20 // 1 GiB
	maxArgonTime      = 64
	maxArgonThreads   = 64
	// MaxPasswordBytes is the longest password accepted (longer ones are
	// refused without hashing).
	MaxPasswordBytes = 1024
	// MinPasswordBytes is the shortest password HashPassword accepts.
	MinPasswordBytes = 8
)

// ErrWeakPassword is returned by HashPassword for a password shorter than
// MinPasswordBytes or longer than MaxPasswordBytes.
var ErrWeakPassword = fmt.Errorf("a password has %d to %d bytes", MinPasswordBytes, MaxPasswordBytes)

// hashSlots bounds the argon2id computations running at once: each holds
// MemoryKiB of memory, and a burst of logins must not exhaust it.
var hashSlots = make(chan struct{}, 4)

func withSlot(ctx context.Context, fn func()) error {
	select {
	case hashSlots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-hashSlots }()
	fn()
	return nil
}

// HashPassword returns the argon2id PHC string of password with a fresh
// random salt and DefaultArgon2.
func HashPassword(password string) (string, error) {
	return hashWith(context.Background(), password, DefaultArgon2)
}

func hashWith(ctx context.Context, password string, p Argon2Params) (string, error) {
	if len(password) < MinPasswordBytes || len(password) > MaxPasswordBytes {
		return "", ErrWeakPassword
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	var key []byte
	if err := withSlot(ctx, func() { key = argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen) }); err != nil {
		return "", err
	}
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// errBadHash: a stored string that is not an argon2id PHC string emgd can
// check.
var errBadHash = errors.New("not an argon2id PHC string")

type phc struct {
	p    Argon2Params
	salt []byte
	key  []byte
}

func parsePHC(s string) (*phc, error) {
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return nil, errBadHash
	}
	var out phc
	seen := 0
	for kv := range strings.SplitSeq(parts[3], ",") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || n == 0 {
			return nil, errBadHash
		}
		switch k {
		case "m":
			out.p.MemoryKiB, seen = uint32(n), seen|1
		case "t":
			out.p.Time, seen = uint32(n), seen|2
		case "p":
			if n > maxArgonThreads {
				return nil, errBadHash
			}
			out.p.Threads, seen = uint8(n), seen|4
		default:
			return nil, errBadHash
		}
	}
	if seen != 7 || out.p.MemoryKiB > maxArgonMemoryKiB || out.p.Time > maxArgonTime || out.p.MemoryKiB < 8*uint32(out.p.Threads) {
		return nil, errBadHash
	}
	var err error
	if out.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(out.salt) < 8 {
		return nil, errBadHash
	}
	if out.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(out.key) < 16 || len(out.key) > 128 {
		return nil, errBadHash
	}
	return &out, nil
}

// VerifyPassword reports whether password matches the PHC string encoded,
// comparing in constant time. An encoded string that is not argon2id is
// an error (and no match).
func VerifyPassword(encoded, password string) (bool, error) {
	return verifyCtx(context.Background(), encoded, password)
}

func verifyCtx(ctx context.Context, encoded, password string) (bool, error) {
	h, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	if len(password) > MaxPasswordBytes {
		return false, nil
	}
	var key []byte
	if err := withSlot(ctx, func() {
		key = argon2.IDKey([]byte(password), h.salt, h.p.Time, h.p.MemoryKiB, h.p.Threads, uint32(len(h.key)))
	}); err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(key, h.key) == 1, nil
}

// dummyMade reports whether dummyHash was asked for.
var dummyMade atomic.Bool

// dummyHash is checked for logins naming no account (or one without a
// password), so that they take as long as a wrong password. It is made by
// the first login, whatever the account (every login asks for it first),
// not at start-up, where its argon2id would compete with the first
// webhooks for the processors of a server that may never see a login.
var dummyHash = sync.OnceValue(makeDummyHash)

func makeDummyHash() string {
	dummyMade.Store(true)
	var b [24]byte
	rand.Read(b[:])
	h, err := HashPassword(base64.RawStdEncoding.EncodeToString(b[:]))
	if err != nil {
		panic(err)
	}
	return h
}
