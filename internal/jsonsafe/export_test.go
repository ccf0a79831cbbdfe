package jsonsafe

import (
	"encoding/json"
	"reflect"
)

// Tree encodes v through the tree Marshal falls back to, whatever v holds.
func Tree(v any) ([]byte, []string, error) {
	w := walker{}
	b, err := json.Marshal(w.value(reflect.ValueOf(v), "", 0))
	return b, w.paths, err
}
