package service_test

import (
	"testing"

	"emgd/internal/service"
)

func TestRecordedAt(t *testing.T) {
	cases := []struct {
		key, info, want string
	}{
		{"P005/Ghostly_Emg_20230321_17-50-17-0881.c3d", "2020-01-01 10:00", "2023-03-21T17:50:17"},
		{"P005/session.c3d", "2023-03-21 17:50", "2023-03-21T17:50:00"},
		{"P005/Ghostly_Emg_20231341_17-50-17-0881.c3d", "2023-03-21 17:50", "2023-03-21T17:50:00"}, // month 13: the name is no date
		{"P005/session.c3d", "2023-02-30 10:00", ""},
		{"P005/session.c3d", "", ""},
	}
	for _, c := range cases {
		got, ok := service.RecordedAt(c.key, c.info)
		s := ""
		if ok {
			s = got.Format("2006-01-02T15:04:05")
		}
		if s != c.want {
			t.Errorf("RecordedAt(%q, %q) = %q, want %q", c.key, c.info, s, c.want)
		}
	}
}
