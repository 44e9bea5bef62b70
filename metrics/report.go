package metrics

import (
	"cmp"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The files gradcam evaluate writes: metrics.csv (the rows), per-image.csv (the values they
// average, and the failures) and metrics.md (the table).

// perImageHeader is per-image.csv's header: failure is empty for a measured value, and says why
// for one that could not be measured (its value is NaN).
const perImageHeader = "model,method,metric,image,class,value,failure"

// WritePerImageCSV writes per-image values: the header model,method,metric,image,class,value,failure.
func WritePerImageCSV(w io.Writer, values []ImageValue) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(strings.Split(perImageHeader, ",")); err != nil {
		return err
	}
	for _, v := range values {
		if err := cw.Write([]string{v.Model, v.Method, string(v.Metric), strconv.Itoa(v.Image), strconv.Itoa(v.Class),
			strconv.FormatFloat(v.Value, 'g', 10, 64), v.Failure}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ReadPerImageCSV reads what WritePerImageCSV writes (and the files written before the failure
// column, without it).
func ReadPerImageCSV(r io.Reader) ([]ImageValue, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("per-image CSV: %w", err)
	}
	if len(recs) == 0 || (strings.Join(recs[0], ",") != perImageHeader && strings.Join(recs[0], ",") != strings.TrimSuffix(perImageHeader, ",failure")) {
		return nil, fmt.Errorf("per-image CSV: the header is not %s", perImageHeader)
	}
	var out []ImageValue
	for i, rec := range recs[1:] {
		if len(rec) != len(recs[0]) {
			return nil, fmt.Errorf("per-image CSV line %d: %d fields, the header has %d", i+2, len(rec), len(recs[0]))
		}
		img, err1 := strconv.Atoi(rec[3])
		class, err2 := strconv.Atoi(rec[4])
		v, err3 := strconv.ParseFloat(rec[5], 64)
		if err := cmp.Or(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("per-image CSV line %d: %w", i+2, err)
		}
		iv := ImageValue{Model: rec[0], Method: rec[1], Metric: Metric(rec[2]), Image: img, Class: class, Value: v}
		if len(rec) > 6 {
			iv.Failure = rec[6]
		}
		out = append(out, iv)
	}
	return out, nil
}

// WriteCSV writes rows as metrics.csv: the header model,method,metric,value, one row per line.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"model", "method", "metric", "value"}); err != nil {
		return err
	}
	for _, r := range rows {
		if err := cw.Write([]string{r.Model, r.Method, string(r.Metric), strconv.FormatFloat(r.Value, 'g', 8, 64)}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ReadCSV reads what WriteCSV writes (N is not stored: it is 0).
func ReadCSV(r io.Reader) ([]Row, error) {
	recs, err := csv.NewReader(r).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("metrics CSV: %w", err)
	}
	if len(recs) == 0 || strings.Join(recs[0], ",") != "model,method,metric,value" {
		return nil, fmt.Errorf("metrics CSV: the header is not model,method,metric,value")
	}
	var rows []Row
	for i, rec := range recs[1:] {
		v, err := strconv.ParseFloat(rec[3], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics CSV line %d: value %q: %w", i+2, rec[3], err)
		}
		rows = append(rows, Row{Model: rec[0], Method: rec[1], Metric: Metric(rec[2]), Value: v})
	}
	return rows, nil
}

// Markdown writes rows as a table: one line per model and method, one column per metric present
// ("n/a" where every image failed), and below it the count of failed measurements, if any.
func Markdown(w io.Writer, rows []Row) error {
	var cols []Metric
	for _, mt := range All() {
		if slices.ContainsFunc(rows, func(r Row) bool { return r.Metric == mt }) {
			cols = append(cols, mt)
		}
	}
	type key struct{ model, method string }
	var keys []key
	values := map[key]map[Metric]float64{}
	for _, r := range rows {
		k := key{r.Model, r.Method}
		if values[k] == nil {
			values[k] = map[Metric]float64{}
			keys = append(keys, k)
		}
		values[k][r.Metric] = r.Value
	}
	var b strings.Builder
	b.WriteString("| model | method |")
	for _, c := range cols {
		b.WriteString(" " + string(c) + " |")
	}
	b.WriteString("\n|---|---|" + strings.Repeat("---|", len(cols)) + "\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "| %s | %s |", k.model, k.method)
		for _, c := range cols {
			if v, ok := values[k][c]; ok && math.IsNaN(v) {
				b.WriteString(" n/a |")
			} else if ok {
				fmt.Fprintf(&b, " %s |", formatValue(c, v))
			} else {
				b.WriteString(" |")
			}
		}
		b.WriteString("\n")
	}
	if f := Failures(rows); f != "" {
		b.WriteString("\n" + f + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Failures summarizes the rows' failed measurements in one line ("" when none failed): how many,
// and for which model, method and metric. per-image.csv has each one's reason.
func Failures(rows []Row) string {
	total := 0
	var parts []string
	for _, r := range rows {
		if r.Failed > 0 {
			total += r.Failed
			parts = append(parts, fmt.Sprintf("%s %s %s: %d of %d images", r.Model, r.Method, r.Metric, r.Failed, r.Failed+r.N))
		}
	}
	if total == 0 {
		return ""
	}
	return fmt.Sprintf("Failed measurements: %d (%s); per-image.csv gives each one's reason.", total, strings.Join(parts, "; "))
}

// formatValue prints percentages with one decimal and probabilities with three (a value that
// rounds to zero as "0.000", not "-0.000").
func formatValue(mt Metric, v float64) string {
	digits := 3
	switch mt {
	case ClassificationError, LocalizationError, PointingGameAccuracy, AverageDrop, IncreaseInConfidence:
		digits = 1
	}
	s := strconv.FormatFloat(v, 'f', digits, 64)
	if strings.Trim(s, "-0.") == "" {
		return s[strings.Count(s[:1], "-"):]
	}
	return s
}
