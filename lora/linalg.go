package lora

import (
	"math"
	"sort"
)

// Small dense linear algebra in float64 for LoRA factors (rank ≤ a few
// hundred): thin QR by modified Gram-Schmidt and a one-sided Jacobi SVD.

// matrix is row-major [rows, cols].
type matrix struct {
	rows, cols int
	v          []float64
}

func newMatrix(r, c int) matrix { return matrix{r, c, make([]float64, r*c)} }

func (m matrix) at(i, j int) float64     { return m.v[i*m.cols+j] }
func (m matrix) set(i, j int, x float64) { m.v[i*m.cols+j] = x }

func fromF32(v []float32, r, c int) matrix {
	m := newMatrix(r, c)
	for i, x := range v {
		m.v[i] = float64(x)
	}
	return m
}

func (m matrix) transpose() matrix {
	t := newMatrix(m.cols, m.rows)
	for i := 0; i < m.rows; i++ {
		for j := 0; j < m.cols; j++ {
			t.set(j, i, m.at(i, j))
		}
	}
	return t
}

func mul(a, b matrix) matrix {
	out := newMatrix(a.rows, b.cols)
	for i := 0; i < a.rows; i++ {
		for k := 0; k < a.cols; k++ {
			x := a.at(i, k)
			if x == 0 {
				continue
			}
			for j := 0; j < b.cols; j++ {
				out.v[i*out.cols+j] += x * b.at(k, j)
			}
		}
	}
	return out
}

// qr returns the thin QR factors of a (rows ≥ cols): q [rows, cols] with
// orthonormal columns (a zero column for a rank-deficient input) and upper
// triangular r [cols, cols].
func qr(a matrix) (q, r matrix) {
	q = newMatrix(a.rows, a.cols)
	copy(q.v, a.v)
	r = newMatrix(a.cols, a.cols)
	for j := 0; j < a.cols; j++ {
		for k := 0; k < j; k++ {
			var dot float64
			for i := 0; i < a.rows; i++ {
				dot += q.at(i, k) * q.at(i, j)
			}
			r.set(k, j, dot)
			for i := 0; i < a.rows; i++ {
				q.set(i, j, q.at(i, j)-dot*q.at(i, k))
			}
		}
		var norm float64
		for i := 0; i < a.rows; i++ {
			norm += q.at(i, j) * q.at(i, j)
		}
		norm = math.Sqrt(norm)
		r.set(j, j, norm)
		for i := 0; i < a.rows; i++ {
			if norm > 1e-300 {
				q.set(i, j, q.at(i, j)/norm)
			} else {
				q.set(i, j, 0)
			}
		}
	}
	return q, r
}

// svd returns the singular value decomposition a = u·diag(s)·vᵀ of a square
// matrix by one-sided Jacobi rotations, singular values sorted descending.
func svd(a matrix) (u matrix, s []float64, v matrix) {
	n := a.cols
	w := newMatrix(a.rows, n)
	copy(w.v, a.v)
	v = newMatrix(n, n)
	for i := 0; i < n; i++ {
		v.set(i, i, 1)
	}
	for sweep := 0; sweep < 60; sweep++ {
		off := 0.0
		for p := 0; p < n-1; p++ {
			for q := p + 1; q < n; q++ {
				var alpha, beta, gamma float64
				for i := 0; i < w.rows; i++ {
					x, y := w.at(i, p), w.at(i, q)
					alpha += x * x
					beta += y * y
					gamma += x * y
				}
				if gamma == 0 || math.Abs(gamma) <= 1e-15*math.Sqrt(alpha*beta) {
					continue
				}
				off = math.Max(off, math.Abs(gamma)/math.Sqrt(alpha*beta))
				zeta := (beta - alpha) / (2 * gamma)
				t := math.Copysign(1, zeta) / (math.Abs(zeta) + math.Sqrt(1+zeta*zeta))
				c := 1 / math.Sqrt(1+t*t)
				sn := c * t
				for i := 0; i < w.rows; i++ {
					x, y := w.at(i, p), w.at(i, q)
					w.set(i, p, c*x-sn*y)
					w.set(i, q, sn*x+c*y)
				}
				for i := 0; i < n; i++ {
					x, y := v.at(i, p), v.at(i, q)
					v.set(i, p, c*x-sn*y)
					v.set(i, q, sn*x+c*y)
				}
			}
		}
		if off < 1e-14 {
			break
		}
	}
	s = make([]float64, n)
	u = newMatrix(w.rows, n)
	for j := 0; j < n; j++ {
		var norm float64
		for i := 0; i < w.rows; i++ {
			norm += w.at(i, j) * w.at(i, j)
		}
		norm = math.Sqrt(norm)
		s[j] = norm
		for i := 0; i < w.rows; i++ {
			if norm > 1e-300 {
				u.set(i, j, w.at(i, j)/norm)
			}
		}
	}
	// Sort by singular value, descending.
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return s[order[a]] > s[order[b]] })
	us, vs := newMatrix(u.rows, n), newMatrix(n, n)
	ss := make([]float64, n)
	for j, o := range order {
		ss[j] = s[o]
		for i := 0; i < u.rows; i++ {
			us.set(i, j, u.at(i, o))
		}
		for i := 0; i < n; i++ {
			vs.set(i, j, v.at(i, o))
		}
	}
	return us, ss, vs
}
