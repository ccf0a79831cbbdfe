package api

import _ "embed"

//go:embed docs.html
var docsHTML []byte
