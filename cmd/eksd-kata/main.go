// Command eksd-kata turns a Linux host into an EKS Distro node that runs pods in Kata Containers VMs.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/eksd-kata/eksd-kata/pkg/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal asks the run to stop (exit 1); a second one, should
	// something not heed the first, ends the process as the signal does.
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
