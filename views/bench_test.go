package views

import (
	"context"
	"io"
	"testing"
)

func BenchmarkJobTable50(b *testing.B) {
	m := sampleList(50)
	b.ReportAllocs()
	for b.Loop() {
		if err := JobTable(m).Render(context.Background(), io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJobPage(b *testing.B) {
	l, d := sampleLayout(), sampleDetail("Erin's laptop", "Laptop of Erin")
	b.ReportAllocs()
	for b.Loop() {
		if err := JobPage(l, d).Render(context.Background(), io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
