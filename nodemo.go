//go:build nodemo

package main

import (
	"context"
	"errors"
	"io"
)

var errNoDemo = errors.New("not in this build (built with -tags nodemo, as the container image is): go run . demo")

func demo(context.Context, []string, io.Writer, io.Writer) error { return errNoDemo }

func emsimMain([]string, io.Writer) error { return errNoDemo }
