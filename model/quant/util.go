package quant

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

func shapesInt32(n int) shapes.Shape { return shapes.Make(dtypes.Int32, n) }
