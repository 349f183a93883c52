// Package seeded makes fakers whose every draw follows from a seed, the
// same on every machine, for the generated data and the generated replies.
// Each faker belongs to one goroutine, so it skips gofakeit's lock.
package seeded

import (
	"math/rand/v2"

	"github.com/brianvoe/gofakeit/v7"
)

// Faker returns a faker for one goroutine, seeded with seed. gofakeit.New
// would lock a mutex on every draw; nobody shares these fakers.
func Faker(seed uint64) *gofakeit.Faker {
	return gofakeit.NewFaker(rand.NewPCG(seed, Mix(seed)), false)
}

// Pick returns a number in [0, n). Faker.IntN takes another path on 32-bit
// platforms, which would make the output differ between machines; this
// does not (the tiny bias of multiply-shift does not matter for fake data).
func Pick(f *gofakeit.Faker, n int) int {
	return int((f.Uint64() >> 32) * uint64(n) >> 32)
}

// Mix is SplitMix64's finalizer: nearby inputs (seed 1 and 2, block 0 and
// 1) give unrelated outputs.
func Mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
