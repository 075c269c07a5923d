package containerd

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Plugin IDs of the CRI sections, per config version.
const (
	criV2       = "io.containerd.grpc.v1.cri" // 1.6/1.7: all CRI settings; 2.x: streaming server only
	criRuntime  = "io.containerd.cri.v1.runtime"
	criImages   = "io.containerd.cri.v1.images"
	devmapperID = "io.containerd.snapshotter.v1.devmapper"
)

// v1PluginNames maps version 1 short plugin names to their URIs, as
// containerd's own v1Migrate (cmd/containerd/server/config) does.
var v1PluginNames = map[string]string{
	"cri":       criV2,
	"cgroups":   "io.containerd.monitor.v1.cgroups",
	"linux":     "io.containerd.runtime.v1.linux",
	"scheduler": "io.containerd.gc.v1.scheduler",
	"bolt":      "io.containerd.metadata.v1.bolt",
	"task":      "io.containerd.runtime.v2.task",
	"opt":       "io.containerd.internal.v1.opt",
	"restart":   "io.containerd.internal.v1.restart",
	"tracing":   "io.containerd.internal.v1.tracing",
	"otlp":      "io.containerd.tracing.processor.v1.otlp",
	"aufs":      "io.containerd.snapshotter.v1.aufs",
	"btrfs":     "io.containerd.snapshotter.v1.btrfs",
	"devmapper": devmapperID,
	"native":    "io.containerd.snapshotter.v1.native",
	"overlayfs": "io.containerd.snapshotter.v1.overlayfs",
	"zfs":       "io.containerd.snapshotter.v1.zfs",
}

func v1PluginURI(name string) string {
	if strings.Contains(name, ".") {
		return name
	}
	if uri, ok := v1PluginNames[name]; ok {
		return uri
	}
	if strings.HasSuffix(name, "-service") {
		return "io.containerd.service.v1." + name
	}
	return "io.containerd.grpc.v1." + name
}

// migrateV1 renames short plugin names (version 1, the 2020 tutorial's
// `[plugins.cri]`) to URIs, making the file version 2.
func migrateV1(doc table) error {
	plugins, err := tableAt(doc, "plugins")
	if err != nil {
		return err
	}
	if plugins != nil {
		renamed := table{}
		for _, name := range sortedKeys(plugins) {
			uri := v1PluginURI(name)
			if _, dup := renamed[uri]; dup {
				return fmt.Errorf("version 1 config has both plugins.%s and its full name %q", name, uri)
			}
			renamed[uri] = plugins[name]
		}
		doc["plugins"] = renamed
	}
	for _, key := range []string{"disabled_plugins", "required_plugins"} {
		if names, ok := stringList(doc[key]); ok {
			for i, n := range names {
				names[i] = v1PluginURI(n)
			}
			doc[key] = anyList(names)
		}
	}
	doc["version"] = int64(2)
	return nil
}

// Keys of the version 2 CRI section that containerd 2.x moved to the
// images plugin (plugins/cri/images configMigration).
var (
	v2ImageKeys           = []string{"registry", "image_decryption", "max_concurrent_downloads", "image_pull_progress_timeout", "image_pull_with_sync_fs", "stats_collect_period"}
	v2ImageContainerdKeys = []string{"snapshotter", "disable_snapshot_annotations", "discard_unpacked_layers"}
	v2StreamingKeys       = []string{"disable_tcp_service", "stream_server_address", "stream_server_port", "stream_idle_timeout", "enable_tls_streaming", "x509_key_pair_streaming"}
)

// migrateV2 splits the version 2 CRI section into the version 3 runtime,
// images and server sections the way containerd 2.x does in memory
// (plugins/cri/{runtime,images}/plugin.go, plugins/cri/cri.go), so the file
// we write says what containerd will really use. Keys already present in
// the version 3 sections win, as in containerd.
func migrateV2(doc table) error {
	if err := checkV2Tables(doc); err != nil {
		return err
	}
	doc["version"] = int64(3)
	plugins, ok := doc["plugins"].(table)
	if !ok {
		return nil
	}
	src, ok := plugins[criV2].(table)
	if !ok {
		return nil
	}
	images, err := ensure(plugins, criImages)
	if err != nil {
		return err
	}
	runtime, err := ensure(plugins, criRuntime)
	if err != nil {
		return err
	}
	if img, ok := src["sandbox_image"]; ok {
		pinned, err := ensure(images, "pinned_images")
		if err != nil {
			return err
		}
		setDefault(pinned, "sandbox", img)
	}
	for _, k := range v2ImageKeys {
		if v, ok := src[k]; ok {
			setDefault(images, k, v)
		}
	}
	streaming := table{}
	for _, k := range v2StreamingKeys {
		if v, ok := src[k]; ok {
			streaming[k] = v
		}
	}
	skip := map[string]bool{"sandbox_image": true, "cni": true, "containerd": true, "enable_cdi": true}
	for _, k := range append(append([]string{}, v2ImageKeys...), v2StreamingKeys...) {
		skip[k] = true
	}
	for k, v := range src {
		if !skip[k] {
			setDefault(runtime, k, v)
		}
	}
	if cni, ok := src["cni"].(table); ok {
		dst, err := ensure(runtime, "cni")
		if err != nil {
			return err
		}
		for k, v := range cni {
			if k == "bin_dir" {
				setDefault(dst, "bin_dirs", []any{v})
				continue
			}
			setDefault(dst, k, v)
		}
	}
	if ctd, ok := src["containerd"].(table); ok {
		dst, err := ensure(runtime, "containerd")
		if err != nil {
			return err
		}
		for k, v := range ctd {
			if slices.Contains(v2ImageContainerdKeys, k) {
				setDefault(images, k, v)
				continue
			}
			setDefault(dst, k, v)
		}
		if rts, ok := dst["runtimes"].(table); ok {
			for _, rt := range rts {
				if r, ok := rt.(table); ok {
					_, has := r["sandboxer"]
					if mode, ok := r["sandbox_mode"]; ok && !has {
						r["sandboxer"] = mode
						delete(r, "sandbox_mode")
					}
				}
			}
		}
	}
	if len(streaming) > 0 {
		plugins[criV2] = streaming
	} else {
		delete(plugins, criV2)
	}
	return nil
}

// checkV2Tables refuses a version 2 file whose CRI keys that migrateV2
// splits up are not tables, before anything of it is moved.
func checkV2Tables(doc table) error {
	cri := []string{"plugins", criV2}
	runtimes := slices.Concat(cri, []string{"containerd", "runtimes"})
	for _, keys := range [][]string{cri, slices.Concat(cri, []string{"cni"}), runtimes} {
		if _, err := tableAt(doc, keys...); err != nil {
			return err
		}
	}
	rts, _ := tableAt(doc, runtimes...)
	for _, name := range sortedKeys(rts) {
		if _, err := tableAt(doc, slices.Concat(runtimes, []string{name})...); err != nil {
			return err
		}
	}
	return nil
}

func setDefault(t table, k string, v any) {
	if _, ok := t[k]; !ok {
		t[k] = v
	}
}

func sortedKeys(t table) []string {
	return slices.Sorted(maps.Keys(t))
}
