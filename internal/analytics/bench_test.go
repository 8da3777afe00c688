package analytics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// The benchmarks use fixed seeds so runs compare like with like.

func BenchmarkAnalyzeFinancials(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	data := make([]FinancialPeriod, 1000)
	for i := range data {
		r := 1000 + rng.Float64()*500
		data[i] = FinancialPeriod{Period: "P" + strconv.Itoa(i), Revenue: r, Costs: r * (0.6 + rng.Float64()*0.3), Investment: rng.Float64() * 50}
	}
	in := FinancialInput{Data: data}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AnalyzeFinancials(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkForecastSales(b *testing.B) {
	rng := rand.New(rand.NewPCG(2, 2))
	ys := make([]float64, 1000)
	for i := range ys {
		ys[i] = 100 + 0.5*float64(i) + 20*math.Sin(2*math.Pi*float64(i)/12) + rng.NormFloat64()*5
	}
	in := ForecastInput{Series: ys, Horizon: 12, SeasonLength: 12}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ForecastSales(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSegmentCustomers(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	cs := make([]CustomerRecord, 10_000)
	for i := range cs {
		cs[i] = CustomerRecord{
			CustomerID:       "cust-" + strconv.Itoa(i),
			LastPurchaseDate: fmt.Sprintf("2024-%02d-%02d", 1+rng.IntN(12), 1+rng.IntN(28)),
			Frequency:        1 + rng.IntN(30),
			Monetary:         math.Round(rng.ExpFloat64()*20000) / 100,
		}
	}
	in := SegmentInput{Customers: cs}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SegmentCustomers(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSegmentCustomersTransactions(b *testing.B) {
	rng := rand.New(rand.NewPCG(4, 4))
	txs := make([]Transaction, 100_000)
	for i := range txs {
		txs[i] = Transaction{
			CustomerID: "cust-" + strconv.Itoa(rng.IntN(10_000)),
			Date:       fmt.Sprintf("2024-%02d-%02d", 1+rng.IntN(12), 1+rng.IntN(28)),
			Amount:     math.Round(rng.ExpFloat64()*5000) / 100,
		}
	}
	in := SegmentInput{Transactions: txs}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SegmentCustomers(in); err != nil {
			b.Fatal(err)
		}
	}
}

// benchTable is 10k rows × 5 columns: four numeric (one with gaps) and one
// text column.
func benchTable() (string, []map[string]any) {
	rng := rand.New(rand.NewPCG(5, 5))
	var sb strings.Builder
	sb.WriteString("price,qty,discount,score,region\n")
	rows := make([]map[string]any, 10_000)
	regions := []string{"north", "south", "east", "west", "centre"}
	for i := range rows {
		price := math.Round(rng.Float64()*10000) / 100
		qty := float64(1 + rng.IntN(50))
		disc := math.Round(rng.Float64()*30) / 100
		score := rng.NormFloat64()
		region := regions[rng.IntN(len(regions))]
		rows[i] = map[string]any{"price": price, "qty": qty, "discount": disc, "score": score, "region": region}
		d := strconv.FormatFloat(disc, 'f', -1, 64)
		if i%17 == 0 {
			d = ""
			rows[i]["discount"] = nil
		}
		fmt.Fprintf(&sb, "%g,%g,%s,%g,%s\n", price, qty, d, score, region)
	}
	return sb.String(), rows
}

func BenchmarkAnalyzeData(b *testing.B) {
	csvText, _ := benchTable()
	in := DataInput{CSV: csvText}
	b.SetBytes(int64(len(csvText)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AnalyzeData(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAnalyzeDataRows(b *testing.B) {
	_, rows := benchTable()
	in := DataInput{Rows: rows}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := AnalyzeData(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGenerateReport(b *testing.B) {
	_, rows := benchTable()
	in := ReportInput{Title: "Bench", Sections: []ReportSection{
		{Heading: "Rows", Data: raw(b, rows[:1000])},
		{Heading: "Text", Content: strings.Repeat("Some words here. ", 1000)},
	}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := GenerateReport(in); err != nil {
			b.Fatal(err)
		}
	}
}
