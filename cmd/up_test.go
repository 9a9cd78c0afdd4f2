package cmd

import (
	"reflect"
	"testing"

	"github.com/msx-dev/msx/dashboard"
	"github.com/msx-dev/msx/devenv"
	"github.com/msx-dev/msx/runner"
)

func TestEventConsumers(t *testing.T) {
	m := &devenv.Manifest{Services: map[string]devenv.Service{
		"orders":   {DB: devenv.DBSQLite},
		"payments": {DB: devenv.DBSQLite, Subscribes: []string{"orders.item.created"}},
		"mailer":   {DB: devenv.DBSQLite, Subscribes: []string{"orders.item.deleted"}},
		"audit":    {DB: devenv.DBSQLite, Subscribes: []string{"orders.item.created"}},
	}}
	broker := runner.ServiceStatus{Service: devenv.KindNATS, Role: devenv.RoleInfra, State: "running", Ready: true}
	list := []runner.ServiceStatus{
		broker,
		{Service: "orders", Role: devenv.RoleService, State: "running"},
		{Service: "payments", Role: devenv.RoleService, State: "running",
			Consumer: &runner.ConsumerStatus{Pending: 7, AckPending: 2, Redelivered: 1}},
		{Service: "mailer", Role: devenv.RoleService, State: "exited"},
		{Service: "audit", Role: devenv.RoleService, State: "running"},
	}
	got, err := eventConsumers(m, list)
	want := []dashboard.EventConsumer{
		{Service: "audit", Subscribes: []string{"orders.item.created"}, Problem: "no consumer read from the broker"},
		{Service: "mailer", Subscribes: []string{"orders.item.deleted"}, Problem: "not running"},
		{Service: "payments", Subscribes: []string{"orders.item.created"}, Pending: 7, Unacked: 2, Redelivered: 1},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("eventConsumers = %+v, %v\nwant %+v", got, err, want)
	}

	list[0].Ready = false
	if _, err := eventConsumers(m, list); err == nil || err.Error() != "the broker is not answering on its monitoring port" {
		t.Errorf("broker not ready: %v", err)
	}
	list[0].State = "exited"
	if _, err := eventConsumers(m, list); err == nil || err.Error() != "the broker is not running (msx up starts it)" {
		t.Errorf("broker exited: %v", err)
	}
	if _, err := eventConsumers(m, list[1:]); err == nil {
		t.Error("no broker container: no error")
	}

	if tabs := dashboardTabs(nil, nil, m); len(tabs) != 3 || tabs[2].Title() != "events" {
		t.Errorf("tabs of a project with subscribers: %d", len(tabs))
	}
	if tabs := dashboardTabs(nil, nil, &devenv.Manifest{Services: map[string]devenv.Service{"orders": {}}}); len(tabs) != 2 {
		t.Errorf("a project without subscribers has %d tabs, want 2 (no events)", len(tabs))
	}
}
