package accounts

import (
	"math/big"
	"regexp"
	"strings"

	"github.com/keycare/keycare"
)

// amountPattern is the only shape a money amount may take on the wire: a
// decimal string. Exponents, thousands separators and JSON numbers are refused,
// because a float can never carry an exact amount.
var amountPattern = regexp.MustCompile(`^-?[0-9]{1,15}(\.[0-9]{1,6})?$`)

// maxMinor keeps amounts well inside int64 so sums over years of revenue do not overflow.
const maxMinor = 1_000_000_000_000_000 // 10^18

// ParseAmount converts a decimal string into minor units of currency,
// refusing more decimals than the currency has and negative amounts.
// field names the input in the returned error.
func ParseAmount(field, amount, currency string) (int64, error) {
	if !amountPattern.MatchString(amount) {
		return 0, keycare.Invalid(field, "must be a decimal string such as \"12500.00\"")
	}
	if strings.HasPrefix(amount, "-") {
		return 0, keycare.Invalid(field, "must not be negative")
	}
	exp := keycare.CurrencyExponent(currency)
	whole, frac, _ := strings.Cut(amount, ".")
	frac = strings.TrimRight(frac, "0")
	if len(frac) > exp {
		return 0, keycare.Invalid(field, "has more than %d decimal places for %s", exp, currency)
	}
	frac += strings.Repeat("0", exp-len(frac))
	n, ok := new(big.Int).SetString(whole+frac, 10)
	if !ok || !n.IsInt64() || n.Int64() > maxMinor {
		return 0, keycare.Invalid(field, "is too large")
	}
	return n.Int64(), nil
}

// FormatAmount renders minor units of currency as a decimal string with
// exactly the currency's decimals: 1250000 RUB → "12500.00".
func FormatAmount(minor int64, currency string) string {
	exp := keycare.CurrencyExponent(currency)
	neg := minor < 0
	if neg {
		minor = -minor
	}
	s := new(big.Int).SetInt64(minor).String()
	if exp > 0 {
		if len(s) <= exp {
			s = strings.Repeat("0", exp-len(s)+1) + s
		}
		s = s[:len(s)-exp] + "." + s[len(s)-exp:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
