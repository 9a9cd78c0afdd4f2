package builder

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/docker/docker/api/types/image"
)

type listedImages struct {
	imgs []image.Summary
	opts image.ListOptions
}

func (l *listedImages) ImageList(_ context.Context, opts image.ListOptions) ([]image.Summary, error) {
	l.opts = opts
	return l.imgs, nil
}

func TestBuiltImagesTakesTheNewestOfEachProgram(t *testing.T) {
	svc := func(name string) map[string]string { return map[string]string{LabelService: name} }
	api := &listedImages{imgs: []image.Summary{
		{Labels: svc("orders"), RepoTags: []string{"msx-shop-orders:old"}, Created: 10},
		{Labels: svc("orders"), RepoTags: []string{"msx-shop-orders:new"}, Created: 20},
		{Labels: svc("orders"), RepoTags: []string{"msx-shop-orders:older"}, Created: 5},
		{Labels: svc("gateway"), RepoTags: []string{"msx-shop-gateway:a"}, Created: 1},
		{Labels: svc("payments")}, // untagged: dangling, not runnable by name
		{Labels: map[string]string{}, RepoTags: []string{"other:1"}},
	}}
	got, err := BuiltImages(context.Background(), api, "shop", "/w/shop")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"orders": "msx-shop-orders:new", "gateway": "msx-shop-gateway:a"}
	if !maps.Equal(got, want) {
		t.Errorf("BuiltImages = %v, want %v", got, want)
	}
	labels := api.opts.Filters.Get("label")
	if !slices.Contains(labels, LabelProject+"=shop") || !slices.Contains(labels, LabelWorkspace+"=/w/shop") {
		t.Errorf("listed with labels %v, want the project's and the workspace's", labels)
	}
}
