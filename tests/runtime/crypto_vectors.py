"""Known-answer vectors from the standards, shared by the host-operation and Web Crypto tests.
Byte strings are hex."""

from __future__ import annotations

# FIPS 180-2 appendix examples: the one-block message "abc".
SHA_ABC = {
    "SHA-1": "a9993e364706816aba3e25717850c26c9cd0d89d",
    "SHA-256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    "SHA-384": "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
    "SHA-512": "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
}

# RFC 4231 test cases 1 and 2: (key, data, {hash: mac}).
HMAC_CASES = [
    (
        "0b" * 20,
        b"Hi There".hex(),
        {
            "SHA-256": "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            "SHA-384": "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
            "SHA-512": "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
        },
    ),
    (
        b"Jefe".hex(),
        b"what do ya want for nothing?".hex(),
        {"SHA-256": "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    ),
]

# The GCM specification's (McGrew & Viega, used by NIST's validation) test case 4: AES-128
# with additional data.
AES_GCM = {
    "key": "feffe9928665731c6d6a8f9467308308",
    "iv": "cafebabefacedbaddecaf888",
    "additionalData": "feedfacedeadbeeffeedfacedeadbeefabaddad2",
    "plaintext": "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
    "ciphertext": "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
    "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
    "tag": "5bc94fbc3221a5db94fae95ae7121a47",
}

# RFC 6979 A.2.5: ECDSA over P-256 with SHA-256, message "sample".
ECDSA_P256 = {
    "d": "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721",
    "x": "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6",
    "y": "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299",
    "message": b"sample".hex(),
    "signature": "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716"
    "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8",
}

# RFC 8032 section 7.1, tests 1 and 2.
ED25519_CASES = [
    {
        "secret": "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "public": "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "message": "",
        "signature": "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    },
    {
        "secret": "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "public": "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "message": "72",
        "signature": "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    },
]

# RFC 6070 (PBKDF2-HMAC-SHA1) and RFC 7914 section 11 (PBKDF2-HMAC-SHA256):
# (hash, password, salt, iterations, derived key).
PBKDF2_CASES = [
    ("SHA-1", b"password".hex(), b"salt".hex(), 1, "0c60c80f961f0e71f3a9b524af6012062fe037a6"),
    ("SHA-1", b"password".hex(), b"salt".hex(), 2, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"),
    ("SHA-1", b"password".hex(), b"salt".hex(), 4096, "4b007901b765489abead49d926f721d065a429c1"),
    (
        "SHA-256",
        b"passwd".hex(),
        b"salt".hex(),
        1,
        "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783",
    ),
]
# RFC 7914's second PBKDF2 vector: 80,000 iterations, too slow for a script under a 50 ms
# CPU limit, so only the host operation is checked against it.
PBKDF2_SLOW_CASE = (
    "SHA-256",
    b"Password".hex(),
    b"NaCl".hex(),
    80000,
    "4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56"
    "a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d",
)

# RFC 5869 test case 1 (HKDF-SHA256).
HKDF_CASE = {
    "ikm": "0b" * 22,
    "salt": "000102030405060708090a0b0c",
    "info": "f0f1f2f3f4f5f6f7f8f9",
    "length": 42,
    "okm": "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
}
