package patterntest_test

import (
	"os"
	"strings"

	"github.com/eventrouter/eventrouter/internal/patterntest"
)

func ExampleBatch() {
	cases := `{"id":"big-order","pattern":{"detail":{"total":[{"numeric":[">",100]}]}},"event":{"detail":{"total":250}}}
{"id":"small-order","pattern":{"detail":{"total":[{"numeric":[">",100]}]}},"event":{"detail":{"total":50}}}
{"id":"bad","pattern":{"detail":{"total":[{"numeric":["<",100,">",5]}]}},"event":{}}
`
	patterntest.Batch(strings.NewReader(cases), os.Stdout, true)
	// Output:
	// {"id":"big-order","Result":true}
	// {"id":"small-order","Result":false,"Explanation":[{"alternative":1,"path":"detail.total","pattern":[{"numeric":[">",100]}],"event":50,"reason":"no value matches"}]}
	// {"id":"bad","Error":"pattern: detail.total: numeric: lower bound must come before upper"}
}
