package containerd

// layout says where a config version keeps what we own.
type layout struct {
	cri        []string // restrict_oom_score_adj and containerd.runtimes live here
	sandbox    []string // table holding the sandbox image
	sandboxKey string
	registry   []string // the CRI plugin's registry table (config_path)
}

func layoutFor(version int) layout {
	if version >= 3 {
		return layout{
			cri:        []string{"plugins", criRuntime},
			sandbox:    []string{"plugins", criImages, "pinned_images"},
			sandboxKey: "sandbox",
			registry:   []string{"plugins", criImages, "registry"},
		}
	}
	return layout{
		cri:        []string{"plugins", criV2},
		sandbox:    []string{"plugins", criV2},
		sandboxKey: "sandbox_image",
		registry:   []string{"plugins", criV2, "registry"},
	}
}

func (l layout) runtimes() []string {
	return append(append([]string{}, l.cri...), "containerd", "runtimes")
}

// skeleton is the small part of `containerd config default` we start a new
// file from; everything else is containerd's built-in default anyway.
func skeleton(version int) table {
	l := layoutFor(version)
	doc := table{"version": int64(version)}
	ctd, _ := ensure(doc, append(append([]string{}, l.cri...), "containerd")...)
	ctd["default_runtime_name"] = "runc"
	return doc
}
