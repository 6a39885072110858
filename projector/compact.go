package projector

import (
	"encoding/hex"
	"math"
	"time"
)

// stamp is a time as nanoseconds since the Unix epoch, and 0 for the zero
// time.Time. Times before 1678 or after 2262, which int64 nanoseconds
// cannot hold, are clamped to the nearest that it can. The epoch instant
// itself becomes 1ns after it, so that it stays distinct from no time.
type stamp int64

var (
	minStampTime = time.Unix(0, math.MinInt64)
	maxStampTime = time.Unix(0, math.MaxInt64)
)

func stampOf(t time.Time) stamp {
	switch {
	case t.IsZero():
		return 0
	case t.Before(minStampTime):
		return math.MinInt64
	case t.After(maxStampTime):
		return math.MaxInt64
	}
	if n := t.UnixNano(); n != 0 {
		return stamp(n)
	}
	return 1
}

// time returns s as a time in UTC, or the zero time.Time for 0.
func (s stamp) time() time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(s)).UTC()
}

// after reports whether s is later than u, where 0, the zero time.Time, is
// earlier than every other stamp, as time.Time.After has it.
func (s stamp) after(u stamp) bool {
	return s != 0 && (u == 0 || s > u)
}

// before reports whether s is earlier than u, as time.Time.Before has it.
func (s stamp) before(u stamp) bool {
	return u.after(s)
}

// max returns the later of s and u.
func (s stamp) max(u stamp) stamp {
	if u.after(s) {
		return u
	}
	return s
}

// min returns the earlier of s and u.
func (s stamp) min(u stamp) stamp {
	if u.before(s) {
		return u
	}
	return s
}

// minNonZero returns the earlier of a and b, treating 0 as unset.
func minNonZero(a, b stamp) stamp {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}

// Client keys name the client that a session, grant or token belongs to.
// A key is "c:" and the SASL2 client id, "r:" and the resource of a legacy
// client, or "g:" and the id of a grant that no event linked to a client
// id.
//
// A record stores its key packed. A client id that is a UUID in canonical
// lowercase text form, the usual form of SASL2 client ids, becomes "u" and
// its 16 bytes. Every other key stays as it is. No unpacked key starts with
// "u", so the two forms never collide.
const (
	prefixClient   = "c:"
	prefixResource = "r:"
	prefixGrant    = "g:"
	prefixUUID     = 'u'
)

// appendClientKey appends the packed key of client id to dst.
func appendClientKey(dst []byte, id string) []byte {
	if len(id) == 36 && isUUID(id) {
		dst = append(dst, prefixUUID)
		return appendUUIDBytes(dst, id)
	}
	dst = append(dst, prefixClient...)
	return append(dst, id...)
}

// appendResourceKey appends the key of a legacy client with resource res.
func appendResourceKey(dst []byte, res string) []byte {
	dst = append(dst, prefixResource...)
	return append(dst, res...)
}

// unpackKey returns the client key that the packed key p stands for.
func unpackKey(p string) string {
	if len(p) == 17 && p[0] == prefixUUID {
		return prefixClient + formatUUID(p[1:])
	}
	return p
}

// isUUID reports whether s is a UUID in canonical lowercase text form,
// such as "6ba7b810-9dad-41d1-80b4-00c04fd430c8".
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isLowerHex(s[i]) {
				return false
			}
		}
	}
	return true
}

func isLowerHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f')
}

// appendUUIDBytes appends the 16 bytes of a UUID in canonical form.
func appendUUIDBytes(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		if s[i] == '-' {
			i++
			continue
		}
		dst = append(dst, unhex(s[i])<<4|unhex(s[i+1]))
		i += 2
	}
	return dst
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

// formatUUID returns the canonical text form of the 16 bytes in b.
func formatUUID(b string) string {
	var out [36]byte
	hex.Encode(out[0:8], []byte(b[0:4]))
	out[8] = '-'
	hex.Encode(out[9:13], []byte(b[4:6]))
	out[13] = '-'
	hex.Encode(out[14:18], []byte(b[6:8]))
	out[18] = '-'
	hex.Encode(out[19:23], []byte(b[8:10]))
	out[23] = '-'
	hex.Encode(out[24:36], []byte(b[10:16]))
	return string(out[:])
}

// A FAST token fingerprint is stored packed. "sha256:" and 64 lowercase hex
// digits, the form that nodes send, becomes byte 1 and the 32 bytes of the
// digest. Any other fingerprint becomes byte 0 and its text.
const (
	fingerprintText   = 0
	fingerprintSHA256 = 1
	sha256Prefix      = "sha256:"
)

// appendFingerprint appends the packed form of fp to dst.
func appendFingerprint(dst []byte, fp string) []byte {
	if len(fp) == len(sha256Prefix)+64 && fp[:len(sha256Prefix)] == sha256Prefix && isLowerHexString(fp[len(sha256Prefix):]) {
		dst = append(dst, fingerprintSHA256)
		for i := len(sha256Prefix); i < len(fp); i += 2 {
			dst = append(dst, unhex(fp[i])<<4|unhex(fp[i+1]))
		}
		return dst
	}
	dst = append(dst, fingerprintText)
	return append(dst, fp...)
}

func isLowerHexString(s string) bool {
	for i := range len(s) {
		if !isLowerHex(s[i]) {
			return false
		}
	}
	return true
}

// unpackFingerprint returns the fingerprint that the packed form p stands
// for.
func unpackFingerprint(p string) string {
	if len(p) == 33 && p[0] == fingerprintSHA256 {
		return sha256Prefix + hex.EncodeToString([]byte(p[1:]))
	}
	return p[1:]
}
