package synth

import "math"

// shapes are the drawable shapes: a caption name and a signed distance
// function (negative inside; exact or a close bound) of a point relative to
// the shape centre for a shape of radius r.
var shapes = []shapeDef{
	{"circle", func(x, y, r float64) float64 { return math.Hypot(x, y) - r }},
	{"square", func(x, y, r float64) float64 { return box(x, y, 0.82*r, 0.82*r) }},
	{"triangle", triangle},
	{"diamond", func(x, y, r float64) float64 { return (math.Abs(x) + math.Abs(y) - 1.1*r) / math.Sqrt2 }},
	{"star", star},
	{"ring", func(x, y, r float64) float64 { return math.Abs(math.Hypot(x, y)-0.72*r) - 0.3*r }},
	{"cross", func(x, y, r float64) float64 { return math.Min(box(x, y, r, 0.34*r), box(x, y, 0.34*r, r)) }},
	{"hexagon", hexagon},
}

// shapeDef is a drawable shape: its caption name and signed distance
// function.
type shapeDef struct {
	name string
	sdf  func(x, y, r float64) float64
}

// box is the distance to an axis-aligned rectangle of half-sizes hw, hh.
func box(x, y, hw, hh float64) float64 {
	dx, dy := math.Abs(x)-hw, math.Abs(y)-hh
	outside := math.Hypot(math.Max(dx, 0), math.Max(dy, 0))
	return outside + math.Min(math.Max(dx, dy), 0)
}

// convex returns the largest signed distance to the half-planes whose
// outward normals point at the given angles, each at distance apothem from
// the centre: the distance (exact inside, a bound outside) to a regular
// polygon.
func convex(x, y, apothem float64, normals []float64) float64 {
	d := math.Inf(-1)
	for _, a := range normals {
		d = math.Max(d, x*math.Cos(a)+y*math.Sin(a)-apothem)
	}
	return d
}

var (
	triangleNormals = []float64{math.Pi / 2, math.Pi/2 + 2*math.Pi/3, math.Pi/2 + 4*math.Pi/3}
	hexagonNormals  = []float64{0, math.Pi / 3, 2 * math.Pi / 3, math.Pi, 4 * math.Pi / 3, 5 * math.Pi / 3}
)

// triangle points up (image y grows downwards, so the base normal is +y).
func triangle(x, y, r float64) float64 {
	return convex(x, y-0.15*r, 0.6*r, triangleNormals)
}

func hexagon(x, y, r float64) float64 { return convex(x, y, 0.9*r, hexagonNormals) }

// star is a five-pointed star (outer radius 1.15r, inner 0.48r), pointing up.
func star(x, y, r float64) float64 {
	var pts [10][2]float64
	for k := range pts {
		rad := 1.15 * r
		if k%2 == 1 {
			rad = 0.48 * r
		}
		a := float64(k) * math.Pi / 5
		pts[k] = [2]float64{rad * math.Sin(a), -rad * math.Cos(a)}
	}
	return polygon(x, y, pts[:])
}

// polygon is the exact signed distance to a simple polygon: the distance
// to the nearest edge, negative inside (even-odd rule).
func polygon(x, y float64, pts [][2]float64) float64 {
	d := math.Inf(1)
	inside := false
	for i := range pts {
		a, b := pts[i], pts[(i+1)%len(pts)]
		ex, ey := b[0]-a[0], b[1]-a[1]
		px, py := x-a[0], y-a[1]
		t := math.Max(0, math.Min(1, (px*ex+py*ey)/(ex*ex+ey*ey)))
		d = math.Min(d, math.Hypot(px-t*ex, py-t*ey))
		if (a[1] > y) != (b[1] > y) && x < a[0]+(y-a[1])*ex/ey {
			inside = !inside
		}
	}
	if inside {
		return -d
	}
	return d
}
