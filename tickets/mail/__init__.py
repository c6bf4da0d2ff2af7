"""Mail in and out: the only code that parses raw mail or imports anymail."""
