package main

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"errors"
	"fmt"
	"github.com/keycare/keycare/internal/benchkit"
	"io"
	"slices"
	"strings"
)

// ProfileSummary is where the process's CPU went during the profiled phase:
// by component (pprof labels set on the goroutines that start each part),
// by kind of work (the stack's most telling frame), and the top functions.
type ProfileSummary struct {
	Seconds     float64     `json:"cpu_seconds"`
	ByComponent []CostShare `json:"by_component"`
	ByWork      []CostShare `json:"by_work"`
	TopFlat     []CostShare `json:"top_flat"` // self time of a function
	Focus       []CostShare `json:"focus"`    // time with everything it calls, for the steps of the path
}

// focus names the steps of the inbound path by a function that contains all
// of a step's work (inclusive time).
var focus = []struct{ name, fn string }{
	{"chats.Store.StoreMessage (the mirror, whole transaction)", "keycare/keycare/chats.(*Store).StoreMessage"},
	{"  chatByChannel (SELECT chats)", "keycare/keycare/chats.chatByChannel"},
	{"  classify (SELECT users, SELECT contacts, UPDATE contacts)", "keycare/keycare/chats.classify"},
	{"  gorm Create (INSERT messages)", "gorm.io/gorm.(*DB).Create"},
	{"  gorm Commit", "gorm.io/gorm.(*DB).Commit"},
	{"gotd updates loop: saveUserHashes (2 SELECT telegram_users per push)", "telegram/updates.(*internalState).saveUserHashes"},
	{"gotd SetChannelPts (StateStore)", "integrations/telegram.(*StateStore).SetChannelPts"},
	{"gotd getChannelDifference (gap recovery, incl. storing what it fetched)", "telegram/updates.(*channelState).getDifference"},
	{"  of which StoreMessage of messages gap recovery fetched", "getDifference+StoreMessage"},
	{"gotd MTProto: decrypt and handle an incoming message", "gotd/td/mtproto.(*Conn).consumeMessage"},
	{"tgfake push: encode, encrypt, write (tgtest Server.Send)", "gotd/td/tgtest.(*Server).Send"},
}

// CostShare is one line of the summary.
type CostShare struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"cpu_seconds"`
	Percent float64 `json:"percent"`
}

// workKinds classify a sample by the frames on its stack, first match wins.
var workKinds = []struct {
	name string
	any  []string // a frame whose function name contains one of these
}{
	{"GC background work", []string{"runtime.gcBgMarkWorker", "runtime.bgsweep", "runtime.bgscavenge"}},
	{"SQL client: gorm + database/sql + pgx", []string{"gorm.io/", "database/sql.", "github.com/jackc/pgx"}},
	{"MTProto crypto (AES-IGE, SHA-256, rand)", []string{"github.com/gotd/ige", "crypto/aes", "crypto/sha256", "crypto/internal", "gotd/td/crypto.", "crypto/rand"}},
	{"TL encode/decode (gotd bin, tg)", []string{"github.com/gotd/td/bin.", "github.com/gotd/td/tg."}},
	{"HTTP API: echo, net/http, JSON", []string{"github.com/labstack/echo", "encoding/json.", "net/http."}},
	{"gotd updates manager", []string{"github.com/gotd/td/telegram/updates"}},
	{"tgfake model (state, pushes)", []string{"integrations/telegram/tgfake."}},
	{"network I/O syscalls", []string{"syscall.", "internal/poll.", "runtime.netpoll"}},
	{"scheduler, timers, channels", []string{"runtime.schedule", "runtime.findRunnable", "runtime.park_m", "runtime.chansend", "runtime.chanrecv", "runtime.selectgo", "runtime.runtimer", "runtime.mcall", "runtime.futex", "runtime.usleep"}},
}

// summarizeProfile decodes a CPU profile as runtime/pprof writes it.
func summarizeProfile(data []byte, top int) (*ProfileSummary, error) {
	p, err := parseProfile(data)
	if err != nil {
		return nil, err
	}
	vi := len(p.sampleTypes) - 1 // cpu nanoseconds is the last value
	for i, t := range p.sampleTypes {
		if t == "cpu" {
			vi = i
		}
	}
	var total int64
	comp, work, flat, cum := map[string]int64{}, map[string]int64{}, map[string]int64{}, map[string]int64{}
	for _, s := range p.samples {
		if vi >= len(s.values) {
			continue
		}
		v := s.values[vi]
		total += v
		c := s.labels["component"]
		if c == "" {
			c = "no label (runtime: GC workers, scheduler, timers)"
		}
		comp[c] += v
		var frames []string
		for _, loc := range s.locs {
			frames = append(frames, p.locFuncs[loc]...)
		}
		kind := "other Go code"
	kinds:
		for _, k := range workKinds {
			for _, f := range frames {
				for _, pat := range k.any {
					if strings.Contains(f, pat) {
						kind = k.name
						break kinds
					}
				}
			}
		}
		work[kind] += v
		if len(frames) > 0 {
			flat[frames[0]] += v
		}
		for _, fc := range focus {
			all := true // every "+"-separated part is on the stack
			for _, part := range strings.Split(fc.fn, "+") {
				found := false
				for _, f := range frames {
					if strings.Contains(f, part) {
						found = true
						break
					}
				}
				all = all && found
			}
			if all {
				cum[fc.name] += v
			}
		}
	}
	sum := &ProfileSummary{Seconds: round2(float64(total) / 1e9)}
	list := func(m map[string]int64, n int) []CostShare {
		out := make([]CostShare, 0, len(m))
		for k, v := range m {
			out = append(out, CostShare{Name: k, Seconds: round2(float64(v) / 1e9), Percent: benchkit.Round1(100 * float64(v) / float64(max(total, 1)))})
		}
		slices.SortFunc(out, func(a, b CostShare) int { return cmp.Compare(b.Seconds, a.Seconds) })
		if n > 0 && len(out) > n {
			out = out[:n]
		}
		return out
	}
	sum.ByComponent, sum.ByWork, sum.TopFlat = list(comp, 0), list(work, 0), list(flat, top)
	for _, fc := range focus {
		v := cum[fc.name]
		sum.Focus = append(sum.Focus, CostShare{Name: fc.name, Seconds: round2(float64(v) / 1e9), Percent: benchkit.Round1(100 * float64(v) / float64(max(total, 1)))})
	}
	return sum, nil
}

type profSample struct {
	locs   []uint64
	values []int64
	labels map[string]string
}

type profile struct {
	sampleTypes []string
	samples     []profSample
	locFuncs    map[uint64][]string // location id → function names, innermost first
}

// parseProfile reads the gzipped profile.proto runtime/pprof writes: just
// the fields the summary needs.
func parseProfile(data []byte) (*profile, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	type rawLabel struct{ key, str int64 }
	type rawSample struct {
		locs   []uint64
		values []int64
		labels []rawLabel
	}
	var (
		strs      []string
		types     []int64 // string index of each sample type
		samples   []rawSample
		locLines  = map[uint64][]uint64{} // location → function ids
		funcNames = map[uint64]int64{}    // function id → string index
	)
	err = eachField(raw, func(num int, wt int, v uint64, b []byte) error {
		switch num {
		case 1: // sample_type
			return eachField(b, func(n, _ int, v uint64, _ []byte) error {
				if n == 1 {
					types = append(types, int64(v))
				}
				return nil
			})
		case 2: // sample
			var s rawSample
			err := eachField(b, func(n, wt int, v uint64, b []byte) error {
				switch n {
				case 1:
					return packed(wt, v, b, func(x uint64) { s.locs = append(s.locs, x) })
				case 2:
					return packed(wt, v, b, func(x uint64) { s.values = append(s.values, int64(x)) })
				case 3:
					var l rawLabel
					err := eachField(b, func(n, _ int, v uint64, _ []byte) error {
						switch n {
						case 1:
							l.key = int64(v)
						case 2:
							l.str = int64(v)
						}
						return nil
					})
					s.labels = append(s.labels, l)
					return err
				}
				return nil
			})
			samples = append(samples, s)
			return err
		case 4: // location
			var id uint64
			var fns []uint64
			err := eachField(b, func(n, _ int, v uint64, b []byte) error {
				switch n {
				case 1:
					id = v
				case 4: // line
					return eachField(b, func(n, _ int, v uint64, _ []byte) error {
						if n == 1 {
							fns = append(fns, v)
						}
						return nil
					})
				}
				return nil
			})
			locLines[id] = fns
			return err
		case 5: // function
			var id uint64
			var name int64
			err := eachField(b, func(n, _ int, v uint64, _ []byte) error {
				switch n {
				case 1:
					id = v
				case 2:
					name = int64(v)
				}
				return nil
			})
			funcNames[id] = name
			return err
		case 6: // string_table
			strs = append(strs, string(b))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	str := func(i int64) string {
		if i < 0 || int(i) >= len(strs) {
			return ""
		}
		return strs[i]
	}
	p := &profile{locFuncs: map[uint64][]string{}}
	for _, t := range types {
		p.sampleTypes = append(p.sampleTypes, str(t))
	}
	for id, fns := range locLines {
		names := make([]string, len(fns))
		for i, f := range fns {
			names[i] = str(funcNames[f])
		}
		p.locFuncs[id] = names
	}
	for _, s := range samples {
		ps := profSample{locs: s.locs, values: s.values, labels: map[string]string{}}
		for _, l := range s.labels {
			ps.labels[str(l.key)] = str(l.str)
		}
		p.samples = append(p.samples, ps)
	}
	return p, nil
}

var errTruncated = errors.New("profile: truncated protobuf")

// eachField walks a protobuf message: f gets the field number, wire type,
// the varint value (wire type 0, also fixed64/fixed32 as bits) or the bytes (wire type 2).
func eachField(b []byte, f func(num, wt int, v uint64, b []byte) error) error {
	for len(b) > 0 {
		key, n := uvarint(b)
		if n <= 0 {
			return errTruncated
		}
		b = b[n:]
		num, wt := int(key>>3), int(key&7)
		var v uint64
		var sub []byte
		switch wt {
		case 0:
			v, n = uvarint(b)
			if n <= 0 {
				return errTruncated
			}
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return errTruncated
			}
			for i := 7; i >= 0; i-- {
				v = v<<8 | uint64(b[i])
			}
			b = b[8:]
		case 2:
			l, n := uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return errTruncated
			}
			sub = b[n : n+int(l)]
			b = b[n+int(l):]
		case 5:
			if len(b) < 4 {
				return errTruncated
			}
			for i := 3; i >= 0; i-- {
				v = v<<8 | uint64(b[i])
			}
			b = b[4:]
		default:
			return fmt.Errorf("profile: wire type %d", wt)
		}
		if err := f(num, wt, v, sub); err != nil {
			return err
		}
	}
	return nil
}

// packed handles a repeated varint field written either packed or one by one.
func packed(wt int, v uint64, b []byte, add func(uint64)) error {
	if wt == 0 {
		add(v)
		return nil
	}
	for len(b) > 0 {
		x, n := uvarint(b)
		if n <= 0 {
			return errTruncated
		}
		add(x)
		b = b[n:]
	}
	return nil
}

func uvarint(b []byte) (uint64, int) {
	var x uint64
	var s uint
	for i, c := range b {
		if i == 10 {
			return 0, -1
		}
		if c < 0x80 {
			return x | uint64(c)<<s, i + 1
		}
		x |= uint64(c&0x7f) << s
		s += 7
	}
	return 0, 0
}
