"""The words of the renewal e-mail and the answer page, per language (the templates' catalog).

The templates (`templates/*.j2`) hold the structure and are autoescaped; these strings are the
text. Placeholders are filled by the templates (`{purpose}`, `{date}`), never by string
formatting on personal data here. Translations are plain and short on purpose: a DPO reviews
them as they review the notices.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["PURPOSE_NAMES", "TEXT", "purpose_name", "text_for"]

_KEYS = (
    "subject",
    "greeting",
    "intro",
    "expires",
    "silence",
    "action",
    "reminder",
    "renew",
    "withdraw",
    "page_title",
    "notice",
    "done_renewed",
    "done_withdrawn",
    "neutral",
    "footer",
)

TEXT: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "en": {
            "subject": "Do you want us to keep your application on file?",
            "greeting": "Hello {name},",
            "intro": "You agreed that we keep your details for {purpose}.",
            "expires": "That consent ends on {date}.",
            "silence": "If you do not answer, nothing is renewed: your consent simply ends.",
            "action": "Choose renew or withdraw on this page (the link works once):",
            "reminder": "Reminder",
            "renew": "Renew my consent",
            "withdraw": "Withdraw my consent",
            "page_title": "Your consent",
            "notice": "The notice you are asked to agree to",
            "done_renewed": "Thank you. Your consent is renewed.",
            "done_withdrawn": "Your consent is withdrawn. We will no longer keep your details for this purpose.",
            "neutral": "This link cannot be used. It may have been used already or have expired.",
            "footer": "You can withdraw your consent at any time.",
        },
        "ro": {
            "subject": "Doriți să vă păstrăm candidatura?",
            "greeting": "Bună ziua, {name},",
            "intro": "Ați fost de acord să vă păstrăm datele pentru {purpose}.",
            "expires": "Acest consimțământ expiră la {date}.",
            "silence": "Dacă nu răspundeți, nu se reînnoiește nimic: consimțământul expiră.",
            "action": "Alegeți reînnoire sau retragere pe această pagină (linkul funcționează o singură dată):",
            "reminder": "Reamintire",
            "renew": "Reînnoiesc consimțământul",
            "withdraw": "Îmi retrag consimțământul",
            "page_title": "Consimțământul dumneavoastră",
            "notice": "Informarea la care vi se cere acordul",
            "done_renewed": "Vă mulțumim. Consimțământul a fost reînnoit.",
            "done_withdrawn": "Consimțământul a fost retras. Nu vă mai păstrăm datele în acest scop.",
            "neutral": "Acest link nu poate fi folosit. Poate a fost deja folosit sau a expirat.",
            "footer": "Vă puteți retrage consimțământul oricând.",
        },
        "nl": {
            "subject": "Mogen we uw sollicitatie bewaren?",
            "greeting": "Beste {name},",
            "intro": "U gaf toestemming om uw gegevens te bewaren voor {purpose}.",
            "expires": "Die toestemming eindigt op {date}.",
            "silence": "Als u niet antwoordt, wordt niets verlengd: uw toestemming eindigt gewoon.",
            "action": "Kies verlengen of intrekken op deze pagina (de link werkt één keer):",
            "reminder": "Herinnering",
            "renew": "Mijn toestemming verlengen",
            "withdraw": "Mijn toestemming intrekken",
            "page_title": "Uw toestemming",
            "notice": "De verklaring waarmee u instemt",
            "done_renewed": "Dank u. Uw toestemming is verlengd.",
            "done_withdrawn": "Uw toestemming is ingetrokken. We bewaren uw gegevens hiervoor niet langer.",
            "neutral": "Deze link kan niet worden gebruikt. Misschien is hij al gebruikt of verlopen.",
            "footer": "U kunt uw toestemming altijd intrekken.",
        },
        "de": {
            "subject": "Dürfen wir Ihre Bewerbung weiter aufbewahren?",
            "greeting": "Guten Tag {name},",
            "intro": "Sie haben eingewilligt, dass wir Ihre Daten für {purpose} aufbewahren.",
            "expires": "Diese Einwilligung endet am {date}.",
            "silence": "Wenn Sie nicht antworten, wird nichts verlängert: Ihre Einwilligung endet.",
            "action": "Wählen Sie auf dieser Seite Verlängern oder Widerrufen (der Link gilt einmal):",
            "reminder": "Erinnerung",
            "renew": "Einwilligung verlängern",
            "withdraw": "Einwilligung widerrufen",
            "page_title": "Ihre Einwilligung",
            "notice": "Die Information, der Sie zustimmen",
            "done_renewed": "Vielen Dank. Ihre Einwilligung ist verlängert.",
            "done_withdrawn": "Ihre Einwilligung ist widerrufen. Wir bewahren Ihre Daten dafür nicht mehr auf.",
            "neutral": "Dieser Link kann nicht verwendet werden. Er wurde vielleicht schon benutzt oder ist abgelaufen.",
            "footer": "Sie können Ihre Einwilligung jederzeit widerrufen.",
        },
        "fr": {
            "subject": "Souhaitez-vous que nous conservions votre candidature ?",
            "greeting": "Bonjour {name},",
            "intro": "Vous avez accepté que nous conservions vos données pour {purpose}.",
            "expires": "Ce consentement prend fin le {date}.",
            "silence": "Sans réponse, rien n'est renouvelé : votre consentement prend fin.",
            "action": "Choisissez renouveler ou retirer sur cette page (le lien ne sert qu'une fois) :",
            "reminder": "Rappel",
            "renew": "Renouveler mon consentement",
            "withdraw": "Retirer mon consentement",
            "page_title": "Votre consentement",
            "notice": "L'information à laquelle vous consentez",
            "done_renewed": "Merci. Votre consentement est renouvelé.",
            "done_withdrawn": "Votre consentement est retiré. Nous ne conservons plus vos données à cette fin.",
            "neutral": "Ce lien ne peut pas être utilisé. Il a peut-être déjà servi ou expiré.",
            "footer": "Vous pouvez retirer votre consentement à tout moment.",
        },
        "it": {
            "subject": "Desidera che conserviamo la sua candidatura?",
            "greeting": "Gentile {name},",
            "intro": "Ha acconsentito alla conservazione dei suoi dati per {purpose}.",
            "expires": "Il consenso scade il {date}.",
            "silence": "Senza risposta non si rinnova nulla: il consenso scade.",
            "action": "Scelga rinnovo o revoca in questa pagina (il link vale una sola volta):",
            "reminder": "Promemoria",
            "renew": "Rinnovo il consenso",
            "withdraw": "Revoco il consenso",
            "page_title": "Il suo consenso",
            "notice": "L'informativa a cui le chiediamo di acconsentire",
            "done_renewed": "Grazie. Il consenso è rinnovato.",
            "done_withdrawn": "Il consenso è revocato. Non conserviamo più i suoi dati per questo scopo.",
            "neutral": "Questo link non può essere usato. Forse è già stato usato o è scaduto.",
            "footer": "Può revocare il consenso in qualsiasi momento.",
        },
        "es": {
            "subject": "¿Desea que conservemos su candidatura?",
            "greeting": "Hola, {name}:",
            "intro": "Usted aceptó que conserváramos sus datos para {purpose}.",
            "expires": "Ese consentimiento termina el {date}.",
            "silence": "Si no responde, no se renueva nada: su consentimiento termina.",
            "action": "Elija renovar o retirar en esta página (el enlace sirve una sola vez):",
            "reminder": "Recordatorio",
            "renew": "Renovar mi consentimiento",
            "withdraw": "Retirar mi consentimiento",
            "page_title": "Su consentimiento",
            "notice": "La información a la que se le pide dar su consentimiento",
            "done_renewed": "Gracias. Su consentimiento está renovado.",
            "done_withdrawn": "Su consentimiento está retirado. Ya no conservamos sus datos para este fin.",
            "neutral": "Este enlace no se puede usar. Puede que ya se haya usado o haya caducado.",
            "footer": "Puede retirar su consentimiento en cualquier momento.",
        },
        "pl": {
            "subject": "Czy możemy nadal przechowywać Pana/Pani zgłoszenie?",
            "greeting": "Dzień dobry, {name},",
            "intro": "Wyraził(a) Pan/Pani zgodę na przechowywanie danych w celu: {purpose}.",
            "expires": "Ta zgoda wygasa {date}.",
            "silence": "Brak odpowiedzi niczego nie odnawia: zgoda po prostu wygaśnie.",
            "action": "Proszę wybrać odnowienie lub wycofanie na tej stronie (link działa raz):",
            "reminder": "Przypomnienie",
            "renew": "Odnawiam zgodę",
            "withdraw": "Wycofuję zgodę",
            "page_title": "Pana/Pani zgoda",
            "notice": "Informacja, na którą prosimy o zgodę",
            "done_renewed": "Dziękujemy. Zgoda została odnowiona.",
            "done_withdrawn": "Zgoda została wycofana. Nie przechowujemy już danych w tym celu.",
            "neutral": "Tego linku nie można użyć. Mógł zostać już użyty lub wygasł.",
            "footer": "Zgodę można wycofać w każdej chwili.",
        },
        "cs": {
            "subject": "Můžeme si vaši žádost ponechat?",
            "greeting": "Dobrý den, {name},",
            "intro": "Souhlasil(a) jste s uchováním vašich údajů pro účel: {purpose}.",
            "expires": "Tento souhlas končí {date}.",
            "silence": "Pokud neodpovíte, nic se neobnoví: souhlas skončí.",
            "action": "Na této stránce zvolte obnovení nebo odvolání (odkaz platí jednou):",
            "reminder": "Připomínka",
            "renew": "Obnovit souhlas",
            "withdraw": "Odvolat souhlas",
            "page_title": "Váš souhlas",
            "notice": "Informace, se kterou máte souhlasit",
            "done_renewed": "Děkujeme. Váš souhlas je obnoven.",
            "done_withdrawn": "Váš souhlas je odvolán. Vaše údaje pro tento účel již neuchováváme.",
            "neutral": "Tento odkaz nelze použít. Možná už byl použit nebo vypršel.",
            "footer": "Souhlas můžete kdykoli odvolat.",
        },
        "ar": {
            "subject": "هل تريد أن نحتفظ بطلبك؟",
            "greeting": "مرحباً {name}،",
            "intro": "لقد وافقت على أن نحتفظ ببياناتك لغرض {purpose}.",
            "expires": "تنتهي هذه الموافقة في {date}.",
            "silence": "إذا لم ترد فلن يُجدَّد شيء: تنتهي موافقتك ببساطة.",
            "action": "اختر التجديد أو السحب في هذه الصفحة (يعمل الرابط مرة واحدة):",
            "reminder": "تذكير",
            "renew": "تجديد موافقتي",
            "withdraw": "سحب موافقتي",
            "page_title": "موافقتك",
            "notice": "الإشعار المطلوب موافقتك عليه",
            "done_renewed": "شكراً لك. تم تجديد موافقتك.",
            "done_withdrawn": "تم سحب موافقتك. لن نحتفظ ببياناتك لهذا الغرض بعد الآن.",
            "neutral": "لا يمكن استخدام هذا الرابط. ربما استُخدم من قبل أو انتهت صلاحيته.",
            "footer": "يمكنك سحب موافقتك في أي وقت.",
        },
    }
)

PURPOSE_NAMES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "talent_pool": {
            "en": "our talent pool (future vacancies)",
            "ro": "baza noastră de talente (posturi viitoare)",
            "nl": "onze talentenpool (toekomstige vacatures)",
            "de": "unseren Talentpool (künftige Stellen)",
            "fr": "notre vivier de talents (futurs postes)",
            "it": "il nostro bacino di talenti (posizioni future)",
            "es": "nuestra bolsa de talento (futuras vacantes)",
            "pl": "nasza baza talentów (przyszłe rekrutacje)",
            "cs": "naše databáze talentů (budoucí pozice)",
            "ar": "قاعدة المواهب لدينا (الوظائف المستقبلية)",
        },
    }
)

assert all(set(v) == set(_KEYS) for v in TEXT.values())


def text_for(language: str) -> Mapping[str, str]:
    """The catalog of `language` (English when there is none)."""
    return TEXT.get(language, TEXT["en"])


def purpose_name(purpose: str, language: str) -> str:
    """A purpose as a candidate reads it (its identifier when it has no translation)."""
    names = PURPOSE_NAMES.get(purpose, {})
    return names.get(language, names.get("en", purpose))
