package bundle

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/flora-ml/flora/internal/testutil"
	"github.com/flora-ml/flora/model/quant"
)

func TestEmbeddedTiny(t *testing.T) {
	c, err := LoadEmbedded(testutil.Backend(t), "embedded:tiny", dtypes.Float32, quant.None)
	if err != nil {
		t.Fatal(err)
	}
	emb, err := c.Text.Encode([]string{"a red circle in flora style", ""})
	if err != nil {
		t.Fatal(err)
	}
	if d := emb.Shape().Dimensions; d[0] != 2 || d[1] != embeddedTextLength || d[2] != c.Transformer.Config.ContextDim {
		t.Errorf("embedding shape %v", d)
	}
	if _, err := LoadEmbedded(testutil.Backend(t), "embedded:huge", dtypes.Float32, quant.None); err == nil {
		t.Error("unknown embedded model accepted")
	}
}
