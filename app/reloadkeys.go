package app

import (
	"reflect"
	"slices"
	"strings"

	"github.com/eventrouter/eventrouter/bus"
	"github.com/eventrouter/eventrouter/config"
)

// clusterReloader is a bus whose embedded server, a cluster node's, takes
// new cluster settings while it runs (*bus.JetStream of OpenEmbedded).
type clusterReloader interface {
	ReloadCluster(bus.EmbeddedOptions) error
}

// reloadedBus is the bus configuration in force after a reload from old
// to next: old's, but for the cluster keys a running node takes from next
// (bus.ReloadCluster): routes, password (or password_file), and tls's
// files while tls stays on or off. Everything else of the bus needs a
// restart.
func reloadedBus(old, next config.Bus) config.Bus {
	b := old
	if old.Type != config.BusNATSEmbedded || next.Type != config.BusNATSEmbedded ||
		!old.NATS.Cluster.Enabled() || !next.NATS.Cluster.Enabled() {
		return b
	}
	cl := next.NATS.Cluster // routes, password (and its file), tls
	was := old.NATS.Cluster
	cl.Name, cl.Listen, cl.ServerName = was.Name, was.Listen, was.ServerName
	if cl.TLS.Enabled() != was.TLS.Enabled() {
		cl.TLS = was.TLS
	}
	b.NATS.Cluster = cl
	return b
}

// restartKeys names the keys whose values differ between the
// configuration in force and the file reloaded, which only a restart
// applies: the file's sections but rules, schemas and consumers, less
// what a reload changes (the in-force configuration has those from the
// file already). Values are never named: some are secrets.
func restartKeys(inForce, file *config.Config) []string {
	var keys []string
	t := reflect.TypeFor[config.Config]()
	a, b := reflect.ValueOf(inForce).Elem(), reflect.ValueOf(file).Elem()
	for i := range t.NumField() {
		name := keyOf(t.Field(i))
		switch name {
		case "", "schemas", "rules", "consumers":
			continue
		}
		keys = append(keys, changedKeys(name, a.Field(i), b.Field(i))...)
	}
	// TLS turned on or off is one change, not one per file.
	const clusterTLS = "bus.nats.cluster.tls"
	if inForce.Bus.NATS.Cluster.TLS.Enabled() != file.Bus.NATS.Cluster.TLS.Enabled() {
		keys = slices.DeleteFunc(keys, func(k string) bool { return strings.HasPrefix(k, clusterTLS+".") })
		keys = append(keys, clusterTLS+" (turned on or off)")
	}
	return keys
}

// changedKeys compares two values of one config key, path, and returns
// the paths of the keys that differ: a struct's keys one by one, any
// other value (a list, a map) as a whole.
func changedKeys(path string, a, b reflect.Value) []string {
	if a.Kind() != reflect.Struct {
		if reflect.DeepEqual(a.Interface(), b.Interface()) {
			return nil
		}
		return []string{path}
	}
	var keys []string
	for i := range a.NumField() {
		f := a.Type().Field(i)
		name := keyOf(f)
		if name == "" || !f.IsExported() {
			continue
		}
		keys = append(keys, changedKeys(path+"."+name, a.Field(i), b.Field(i))...)
	}
	return keys
}

// keyOf is a config field's key, "" for a field not read from the file.
func keyOf(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
	if name == "-" {
		return ""
	}
	return name
}
