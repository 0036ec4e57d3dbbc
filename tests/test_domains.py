import pytest

from gleif_data.domains import normalise_domain


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
