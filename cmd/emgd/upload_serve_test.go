package main

import (
	"io"
	"testing"
)

func TestUploadLimitFlag(t *testing.T) {
	fs := newFlagSet("serve", "", io.Discard)
	var c serverConfig
	c.bind(fs, true)
	if c.UploadLimitMB != 256 {
		t.Errorf("default %d MiB", c.UploadLimitMB)
	}
	if err := parseEnv(fs, []string{"--upload-limit-mb", "12"}); err != nil || c.UploadLimitMB != 12 {
		t.Errorf("flag: %v %d", err, c.UploadLimitMB)
	}
	t.Setenv("EMGD_UPLOAD_LIMIT_MB", "33")
	fs = newFlagSet("serve", "", io.Discard)
	c = serverConfig{}
	c.bind(fs, true)
	if err := parseEnv(fs, nil); err != nil || c.UploadLimitMB != 33 {
		t.Errorf("EMGD_UPLOAD_LIMIT_MB: %d", c.UploadLimitMB)
	}
}
