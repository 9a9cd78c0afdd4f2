package builder

import (
	"context"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
)

// ImageLister is the part of the engine BuiltImages reads.
type ImageLister interface {
	ImageList(ctx context.Context, options image.ListOptions) ([]image.Summary, error)
}

// BuiltImages finds, by label, the newest image msx built in the workspace
// dir for each service and the gateway, by program name: what msx export
// compose --images msx runs.
func BuiltImages(ctx context.Context, api ImageLister, project, dir string) (map[string]string, error) {
	imgs, err := api.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(
		filters.Arg("label", LabelProject+"="+project),
		filters.Arg("label", LabelWorkspace+"="+dir),
	)})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	created := map[string]int64{}
	for _, img := range imgs {
		name := img.Labels[LabelService]
		if name == "" || len(img.RepoTags) == 0 || img.Created < created[name] {
			continue
		}
		out[name], created[name] = img.RepoTags[0], img.Created
	}
	return out, nil
}
