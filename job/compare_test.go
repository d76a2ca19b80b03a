package job

import (
	"reflect"
	"testing"
)

func TestChanges(t *testing.T) {
	old := Default()
	text, err := old.YAML()
	if err != nil {
		t.Fatal(err)
	}
	recorded, err := ParseRecorded(text)
	if err != nil {
		t.Fatal(err)
	}
	if got := Changes(recorded, old, ResumeKeys); len(got) != 0 {
		t.Errorf("a recorded config differs from itself: %v", got)
	}
	cur := Default()
	cur.Train.BatchSize = 8
	cur.Train.LR = 5e-5
	cur.Train.SaveEvery = 7 // not a resume key
	cur.Model.QuantizeKeep = []string{"final_layer.*"}
	want := []string{
		"model.quantize_keep: [] → [final_layer.*]",
		"train.batch_size: 1 → 8",
		"train.lr: 0.0001 → 5e-05",
	}
	var got []string
	for _, c := range Changes(recorded, cur, ResumeKeys) {
		got = append(got, c.String())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("changes %q, want %q", got, want)
	}
	for _, k := range ResumeKeys {
		if _, ok := valueAt(reflect.ValueOf(cur).Elem(), k); !ok {
			t.Errorf("resume key %s names no setting", k)
		}
	}
	if _, err := ParseRecorded("train: [1"); err == nil {
		t.Error("bad recorded config accepted")
	}
}
