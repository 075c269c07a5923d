// Command pause is the e2e bundle's stand-in for the pod sandbox image's
// pause binary: it sleeps until SIGINT or SIGTERM and reaps orphans, as
// PID 1 of a pod's shared namespaces must. With -v it prints a version and
// exits 0, as upstream's does (kubeadm upgrade's health check Job runs
// `pause -v` and waits for it to complete).
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		fmt.Println("pause (e2e stand-in)")
		return
	}
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sig {
		if s != syscall.SIGCHLD {
			return
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
