package pebblestore

import (
	"fmt"
	"strconv"

	"github.com/mcp-session-operator/mcp-session-operator/internal/store"
)

// Key layout. Everything of one session lives under "s/<uid>/", so Erase is a
// single range deletion and a session's data is contiguous on disk:
//
//	s/<uid>/ctx/<key>        context entry
//	s/<uid>/disc/<seq:020d>  discovery
//	s/<uid>/extra            unknown top-level fields of an imported document
//	s/<uid>/meta             session header and counters
//	s/<uid>/msg/<seq:020d>   message
//
// Sequence numbers are zero-padded to 20 digits (the width of the largest
// uint64) so byte order equals numeric order and History is a plain range
// scan. UIDs may not contain '/', otherwise one session's prefix could
// contain another's.
const (
	sessionsRoot = "s/"
	ctxPart      = "ctx/"
	msgPart      = "msg/"
	discPart     = "disc/"
	metaPart     = "meta"
	extraPart    = "extra"
	seqWidth     = store.SeqWidth
)

func sessionPrefix(uid string) []byte {
	b := make([]byte, 0, len(sessionsRoot)+len(uid)+1)
	b = append(b, sessionsRoot...)
	b = append(b, uid...)
	return append(b, '/')
}

func partKey(uid, part, rest string) []byte {
	p := sessionPrefix(uid)
	b := make([]byte, 0, len(p)+len(part)+len(rest))
	b = append(b, p...)
	b = append(b, part...)
	return append(b, rest...)
}

func metaKey(uid string) []byte  { return partKey(uid, metaPart, "") }
func extraKey(uid string) []byte { return partKey(uid, extraPart, "") }

func ctxKey(uid, key string) []byte { return partKey(uid, ctxPart, key) }
func ctxPrefix(uid string) []byte   { return partKey(uid, ctxPart, "") }

func msgKey(uid string, seq uint64) []byte  { return seqKey(uid, msgPart, seq) }
func msgPrefix(uid string) []byte           { return partKey(uid, msgPart, "") }
func discKey(uid string, seq uint64) []byte { return seqKey(uid, discPart, seq) }
func discPrefix(uid string) []byte          { return partKey(uid, discPart, "") }

func seqKey(uid, part string, seq uint64) []byte {
	b := partKey(uid, part, "")
	return fmt.Appendf(b, "%020d", seq)
}

// recordKey is the key of one record of an import plan.
func recordKey(uid string, r store.Record) []byte {
	switch r.Kind {
	case store.KindContext:
		return ctxKey(uid, r.Key)
	case store.KindMessage:
		return msgKey(uid, r.Seq)
	case store.KindDiscovery:
		return discKey(uid, r.Seq)
	}
	return extraKey(uid)
}

// prefixEnd returns the smallest key greater than every key with the given
// prefix, for use as an exclusive upper bound. All prefixes here end in a
// printable byte, so incrementing the last byte never overflows.
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil // prefix of all 0xff bytes: no upper bound
}

// parseSeq decodes the 20-digit suffix of a msg/ or disc/ key.
func parseSeq(key, prefix []byte) (uint64, error) {
	if len(key) != len(prefix)+seqWidth || string(key[:len(prefix)]) != string(prefix) {
		return 0, fmt.Errorf("malformed sequence key %q", key)
	}
	return strconv.ParseUint(string(key[len(prefix):]), 10, 64)
}
