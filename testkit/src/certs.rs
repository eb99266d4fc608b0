//! Certificates made at test time with rcgen, for the TLS settings and the HTTPS user-info
//! endpoint.

/// Valid from 2020 to 2090: current whenever the tests run.
pub const CURRENT: (i32, i32) = (2020, 2090);

/// A certificate and its key, PEM, with what issuing by it needs.
pub struct Pem {
    pub cert: String,
    pub key: String,
    params: rcgen::CertificateParams,
    key_pair: rcgen::KeyPair,
}

/// A certificate for `names` (the first is its common name) valid between the given years,
/// issued by `issuer`, or a self-signed CA when None.
pub fn certificate(names: &[&str], years: (i32, i32), issuer: Option<&Pem>) -> Pem {
    let key_pair = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, names[0]);
    params.not_before = rcgen::date_time_ymd(years.0, 1, 1);
    params.not_after = rcgen::date_time_ymd(years.1, 1, 1);
    let cert = match issuer {
        None => {
            params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
            params.self_signed(&key_pair).unwrap()
        }
        Some(issuer) => {
            let issuer = rcgen::Issuer::from_params(&issuer.params, &issuer.key_pair);
            params.signed_by(&key_pair, &issuer).unwrap()
        }
    };
    Pem {
        cert: cert.pem(),
        key: key_pair.serialize_pem(),
        params,
        key_pair,
    }
}

/// A client certificate issued by `issuer`, valid between the given years, whose subject
/// alternative names are the emails (rfc822Name) and URIs given; its common name is
/// `common_name`, which names no one.
pub fn client_certificate(
    common_name: &str,
    emails: &[&str],
    uris: &[&str],
    years: (i32, i32),
    issuer: &Pem,
) -> Pem {
    let key_pair = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    let ia5 = |text: &str| rcgen::string::Ia5String::try_from(text.to_owned()).unwrap();
    params.subject_alt_names = emails
        .iter()
        .map(|email| rcgen::SanType::Rfc822Name(ia5(email)))
        .chain(uris.iter().map(|uri| rcgen::SanType::URI(ia5(uri))))
        .collect();
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    params.not_before = rcgen::date_time_ymd(years.0, 1, 1);
    params.not_after = rcgen::date_time_ymd(years.1, 1, 1);
    let issuing = rcgen::Issuer::from_params(&issuer.params, &issuer.key_pair);
    let cert = params.signed_by(&key_pair, &issuing).unwrap();
    Pem {
        cert: cert.pem(),
        key: key_pair.serialize_pem(),
        params,
        key_pair,
    }
}
