package legacy

import "testing"

// TestPatientOf: a file goes under its resolved patient, else its
// patient_id, when that is a patient code (P and 1 to 12 digits, as
// everywhere in emgd), else under its key's; 13 digits are no code.
func TestPatientOf(t *testing.T) {
	str := func(s string) *string { return &s }
	show := func(p *string) string {
		if p == nil {
			return "NULL"
		}
		return *p
	}
	const p12, p13 = "P123456789012", "P1234567890123"
	for _, tc := range []struct {
		resolved, patientID *string
		key, want           string
	}{
		{str("P002"), str("P003"), "P004/a.c3d", "P002"},
		{nil, str("P003"), "P004/a.c3d", "P003"},
		{str("patient-x"), str("P003"), "P004/a.c3d", "P003"},
		{nil, nil, "P004/a.c3d", "P004"},
		{nil, nil, "a.c3d", "P000"},
		{str(p12), nil, "P004/a.c3d", p12},
		{str(p13), str(p13), "P004/a.c3d", "P004"},
		{str(p13), str("P003"), "P004/a.c3d", "P003"},
		{nil, str(p13), p13 + "/a.c3d", "P000"},
	} {
		if got := patientOf(file{ResolvedPatient: tc.resolved, PatientID: tc.patientID}, tc.key); got != tc.want {
			t.Errorf("patientOf(%v, %v, %s) = %s, want %s", show(tc.resolved), show(tc.patientID), tc.key, got, tc.want)
		}
	}
}
