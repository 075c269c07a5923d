package kubeadm

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/eksd-kata/eksd-kata/pkg/badinput"
	"github.com/eksd-kata/eksd-kata/pkg/host"
	"github.com/eksd-kata/eksd-kata/pkg/plan"
)

// User is the account whose ~/.kube/config gets admin.conf.
type User struct {
	Name     string
	UID, GID int
	Home     string
}

// KubeconfigPath is where kubectl of this user looks by default.
func (u User) KubeconfigPath() string { return path.Join(u.Home, ".kube", "config") }

// invokingUser is the user who ran sudo (SUDO_USER), resolved through the
// host's /etc/passwd, or root.
func invokingUser(h *host.Host, sudoUser string) (User, error) {
	name := sudoUser
	if name == "" {
		name = "root"
	}
	data, err := h.FS.ReadText("/etc/passwd")
	if err != nil && !isNotExist(err) {
		return User{}, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 7 || f[0] != name {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil || !path.IsAbs(f[5]) {
			return User{}, fmt.Errorf("/etc/passwd: malformed entry for %s", name)
		}
		return User{Name: name, UID: uid, GID: gid, Home: path.Clean(f[5])}, nil
	}
	if name == "root" {
		return User{Name: "root", Home: "/root"}, nil
	}
	return User{}, fmt.Errorf("SUDO_USER %q is not in /etc/passwd: cannot give it a kubeconfig", sudoUser)
}

// CopyKubeconfig copies admin.conf, as it is when applied, to the user's
// ~/.kube/config (0600, owned by the user).
type CopyKubeconfig struct {
	User User
}

func (c *CopyKubeconfig) Summary() string {
	return fmt.Sprintf("copy %s to %s (0600, owner %s)", AdminConf, c.User.KubeconfigPath(), c.User.Name)
}

func (c *CopyKubeconfig) Apply(_ context.Context, h *host.Host) error {
	data, err := h.FS.ReadText(AdminConf)
	if err != nil {
		return err
	}
	dir := path.Dir(c.User.KubeconfigPath())
	if ok, err := h.FS.Exists(dir); err != nil {
		return err
	} else if !ok {
		// The user's own directory, not root's: kubectl caches under it.
		if err := h.FS.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		if _, err := h.FS.Chown(dir, c.User.UID, c.User.GID); err != nil {
			return err
		}
	}
	if _, err := h.FS.WriteFile(c.User.KubeconfigPath(), data, 0o600); err != nil {
		return err
	}
	_, err = h.FS.Chown(c.User.KubeconfigPath(), c.User.UID, c.User.GID)
	return err
}

// planUserKubeconfig plans admin.conf as sudoUser's ~/.kube/config (root
// without one): always when admin.conf is about to change, else when the
// copy is not admin.conf as it is.
func planUserKubeconfig(h *host.Host, p *plan.Plan, sudoUser string, always bool) error {
	u, err := invokingUser(h, sudoUser)
	if err != nil {
		return badinput.Wrap(err)
	}
	if !always {
		current, err := kubeconfigCurrent(h, u)
		if err != nil || current {
			return err
		}
	}
	p.Add(&CopyKubeconfig{User: u})
	return nil
}

// kubeconfigCurrent reports whether the user's kubeconfig already is
// admin.conf with the right mode and owner.
func kubeconfigCurrent(h *host.Host, u User) (bool, error) {
	want, err := h.FS.ReadText(AdminConf)
	if err != nil {
		return false, err
	}
	have, err := h.FS.ReadText(u.KubeconfigPath())
	if isNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	fi, err := h.FS.Stat(u.KubeconfigPath())
	if err != nil {
		return false, err
	}
	uid, gid := host.Owner(fi)
	return bytes.Equal(want, have) && fi.Mode().Perm() == 0o600 && uid == u.UID && gid == u.GID, nil
}

// KubeconfigUser is who gets admin.conf as ~/.kube/config: the user who
// ran `sudo eksd-kata`, else root.
func KubeconfigUser() string {
	if u := os.Getenv("SUDO_USER"); u != "" {
		return u
	}
	return "root"
}
