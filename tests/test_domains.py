import pytest

from gleif_data.domains import decode_ace_labels, lookup_domain, normalise_domain


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("acme.com", "acme.com"),
        ("  Acme.COM\t", "acme.com"),
        ("https://www.Acme.com/about?x=1#top", "www.acme.com"),
        ("http://user:secret@shop.acme.co.uk:8080/", "shop.acme.co.uk"),
        ("acme.com/contact", "acme.com"),
        ("acme.com.", "acme.com"),
        ("München.DE", "münchen.de"),
        ("шпаркасе-банка.mk", "шпаркасе-банка.mk"),
        ("xn--bcher-kva.de", "bücher.de"),
        ("https://XN--BCHER-KVA.DE/shop", "bücher.de"),
        ("shop.xn--80ak6aa92e.com", "shop.аррӏе.com"),
        ("xn--fa-hia.de", "faß.de"),  # IDNA 2008: 'ß' is its own letter, not 'ss'
        ("BU\u0308CHER.de", "bücher.de"),  # decomposed 'ü' composed, as IDNA maps it
        ("xn--abc.com", "xn--abc.com"),  # no valid ASCII form of a label: kept as written
    ],
)
def test_a_domain_is_trimmed_lower_cased_and_reduced_to_its_host(raw, expected):
    assert normalise_domain(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "localhost", "acme com", "-acme.com", "acme-.com", "1.2.3.4", "https://", "a..com"],
)
def test_what_is_no_domain_is_refused(raw):
    with pytest.raises(ValueError, match="domain"):
        normalise_domain(raw)


@pytest.mark.parametrize(
    "spelling", ["bücher.de", "xn--bcher-kva.de", "BÜCHER.de", " XN--BCHER-KVA.de "]
)
def test_either_spelling_of_an_internationalised_domain_looks_up_its_unicode_form(spelling):
    assert lookup_domain(spelling) == "bücher.de"


def test_a_domain_filter_reads_xn_labels_as_unicode_and_leaves_other_text_alone():
    assert decode_ace_labels("xn--bcher-kva.de") == "bücher.de"
    assert decode_ace_labels("XN--BCHER-KVA") == "bücher"
    assert decode_ace_labels("xn--") == "xn--"
    assert decode_ace_labels("ⓐcme") == "ⓐcme"
