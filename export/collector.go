package export

import (
	"fmt"
	"sort"

	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/templates"
)

// CollectorDir is the folder, in the export's folder, that holds the
// trace collector's source and Dockerfile: the collector is msx's own
// program, not the workspace's, so an export that builds its images
// carries it along.
const CollectorDir = "collector"

// collectorDockerfile builds the collector like the production
// Dockerfiles of services: a static binary at /collector, FROM scratch,
// its span store on /data owned by the unprivileged user.
func collectorDockerfile() []byte {
	return []byte(fmt.Sprintf(`# Production image of msx's trace collector, written by msx export with its
# source (msx embeds it; it is not meant to be edited). Build it from this folder:
#
#   docker build -t PROJECT/collector .
#
# As the workspace's Dockerfiles: exec-form RUN steps, so GO_IMAGE may be
# any image with the go command, and GOPROXY a module mirror.
ARG GO_IMAGE=golang:%s

FROM ${GO_IMAGE} AS build
ARG GOPROXY
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
WORKDIR /src
COPY go.mod go.sum ./
RUN ["go", "mod", "download"]
COPY . .
RUN ["go", "build", "-ldflags=-s -w", "-o", "/out/collector", "."]
WORKDIR /out/data

FROM scratch
COPY --from=build /out/collector /collector
COPY --from=build --chown=65532:65532 /out/data /data
VOLUME /data
USER 65532:65532
EXPOSE %d
ENTRYPOINT ["/collector"]
`, templates.GoVersion, devenv.CollectorPort))
}

// collectorFiles are the collector's source and Dockerfile under
// CollectorDir, in path order.
func collectorFiles() ([]File, error) {
	src, err := templates.CollectorFiles()
	if err != nil {
		return nil, err
	}
	files := []File{{Path: CollectorDir + "/Dockerfile", Data: collectorDockerfile()}}
	for name, data := range src {
		files = append(files, File{Path: CollectorDir + "/" + name, Data: data})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

// CollectorSource is the trace collector's source and Dockerfile under
// CollectorDir, when the plan runs the collector, for msx export k8s to
// write at the workspace root: where msx export compose writes it by
// default, and where the README builds every other image from, so that
// the two exports share one copy.
func CollectorSource(p *devenv.Plan) ([]File, error) {
	if !hasCollector(p) {
		return nil, nil
	}
	return collectorFiles()
}

// hasCollector reports whether the plan runs the trace collector.
func hasCollector(p *devenv.Plan) bool {
	for _, c := range p.Containers {
		if isCollector(c) {
			return true
		}
	}
	return false
}
