package analysis

import (
	"strings"

	"emgd/emg"
)

// Channels resolves channel names the one way emgd's answers use them (the
// signals API, /upload's emg_signals): a channel by its unique key
// (emg.ChannelKeys) or by its label (the first channel of a label wins), and
// "<base> Processed" as the Processed envelope of the base's raw channel.
type Channels struct {
	// Keys are the unique channel keys, by channel index.
	Keys []string
	// Raw maps each base (emg.BaseName) that has one to its raw channel:
	// the "<base> Raw" channel, else a channel named the base itself.
	Raw    map[string]int
	byName map[string]int
	// byFold maps each key and label in lower case to its first channel,
	// and rawFold each base in lower case to its raw channel: the names
	// resolved when no name matches exactly.
	byFold, rawFold map[string]int
}

// NewChannels resolves the channels of a file with these analog labels.
func NewChannels(labels []string) *Channels {
	c := &Channels{Keys: emg.ChannelKeys(labels), Raw: map[string]int{}, byName: map[string]int{}}
	for i := len(labels) - 1; i >= 0; i-- { // first label wins
		c.byName[labels[i]] = i
	}
	for i, k := range c.Keys {
		c.byName[k] = i
	}
	for i, k := range c.Keys {
		base := emg.BaseName(k)
		if strings.HasSuffix(k, " Raw") {
			c.Raw[base] = i
		} else if _, ok := c.Raw[base]; !ok && k == base {
			c.Raw[base] = i
		}
	}
	c.byFold, c.rawFold = map[string]int{}, map[string]int{}
	for i := range c.Keys { // the first channel wins, key or label
		for _, n := range []string{c.Keys[i], labels[i]} {
			if _, ok := c.byFold[strings.ToLower(n)]; !ok {
				c.byFold[strings.ToLower(n)] = i
			}
		}
	}
	for base, i := range c.Raw {
		f := strings.ToLower(base)
		if j, ok := c.rawFold[f]; !ok || i < j {
			c.rawFold[f] = i
		}
	}
	return c
}

// Resolve returns the channel name denotes and whether name asks for its
// Processed envelope; ok is false when no channel has that name. A channel
// whose own key or label is "<base> Processed" wins over the envelope.
// When no name matches exactly, names are matched ignoring case, in the
// same order (as the old backend matched them: "ch1 raw" is "CH1 Raw"; of
// several channels so matched, the first).
func (c *Channels) Resolve(name string) (ch int, processed, ok bool) {
	if ch, ok = c.byName[name]; ok {
		return ch, false, true
	}
	if base, isProc := strings.CutSuffix(name, " Processed"); isProc {
		if ch, ok = c.Raw[base]; ok {
			return ch, true, true
		}
	}
	fold := strings.ToLower(name)
	if ch, ok = c.byFold[fold]; ok {
		return ch, false, true
	}
	if base, isProc := strings.CutSuffix(fold, " processed"); isProc {
		if ch, ok = c.rawFold[base]; ok {
			return ch, true, true
		}
	}
	return 0, false, false
}

// Names lists every channel key, then each base's "<base> Processed", in
// the order of the bases' first channels.
func (c *Channels) Names() []string {
	out := append([]string{}, c.Keys...)
	seen := map[string]bool{}
	for _, k := range c.Keys {
		base := emg.BaseName(k)
		if _, ok := c.Raw[base]; ok && !seen[base] {
			seen[base] = true
			out = append(out, base+" Processed")
		}
	}
	return out
}
