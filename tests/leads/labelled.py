"""Labelled conversations for measuring lead extraction: what a careful human reads as the
visitor's own name, e-mail, phone and company.

How the labels were decided:
- Only the visitor's own details. A manager, colleague, partner, wife or son named in the chat is
  not the lead, even when the visitor asks to be reached through them; the shop's own address or
  number given by the assistant is never the lead either.
- The final value wins: when the visitor corrects a typo, swaps a number or says "use the other
  one", the label is what they settled on.
- E-mails are lower-cased and de-obfuscated ("dot"/"at"/"arroba"/"[at]" spelled out); an address
  that is only part of a URL is not an e-mail the visitor gave.
- Phones are E.164, read with `region` (the shop's country) when written without a country code,
  unless the conversation says whose they are ("my UK mobile", a +44 the visitor used elsewhere);
  a number valid neither there nor in a country the conversation names is labelled as written.
  Order ids, tracking numbers, SKUs, prices, dates and pin codes are never phones, even when they
  would parse as one.
- Names are kept in the script the visitor wrote them in, never guessed from an e-mail or a
  company; a bare first name stays a bare first name. Companies drop generic words the visitor
  put in front ("de la société", "شركة") but keep the legal suffix they wrote ("GmbH", "Ltd").

Case ids start with the language of the chat: en, hi (Devanagari), hinglish, ta, es, fr, de, ar, pt.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Labelled:
    name: str
    messages: list[tuple[str, str]]
    region: str | None
    name_: str | None = None
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    notes: str = ""


ORIGINAL: list[Labelled] = [
    # English
    Labelled(
        name="en_all_fields_one_line",
        messages=[
            ("user", "Hi, we need a quote for 40 embroidered hoodies for a team offsite."),
            (
                "assistant",
                "Happy to help! Could you share your name, email and company so our team can send the quote?",
            ),
            (
                "user",
                "Meera Nair, meera.nair@lumenlabs.example, Lumen Labs. Phone +91 98765 43210 if that's easier.",
            ),
        ],
        region="IN",
        name_="Meera Nair",
        email="meera.nair@lumenlabs.example",
        phone="+919876543210",
        company="Lumen Labs",
        notes="Baseline: every field in one comma-separated line.",
    ),
    Labelled(
        name="en_us_phone_parentheses",
        messages=[
            ("user", "Do you deliver same-day to Oakland?"),
            (
                "assistant",
                "We do for orders placed before 2pm. What's your name and a number the driver can call?",
            ),
            ("user", "Dana Whitfield. (415) 555-2671"),
        ],
        region="US",
        name_="Dana Whitfield",
        phone="+14155552671",
        notes="US national format with parentheses, no country code.",
    ),
    Labelled(
        name="en_us_phone_dots_uppercase_email",
        messages=[
            ("user", "Hello, my standing desk arrived with a cracked leg."),
            (
                "assistant",
                "I'm sorry about that! Could you send your order number and an email or phone we can reach you on?",
            ),
            (
                "user",
                "Order 88-41207. Email is MARCUS.LEE@EXAMPLE.COM and you can text 415.555.0143",
            ),
        ],
        region="US",
        email="marcus.lee@example.com",
        phone="+14155550143",
        notes="Upper-case email, dotted phone; no name given, so none is guessed from the email.",
    ),
    Labelled(
        name="en_us_mobile_for_uk_shop",
        messages=[
            ("user", "I'd like to book a fitting for a three-piece suit next week."),
            ("assistant", "Lovely. May I take your name and the best number to reach you?"),
            (
                "user",
                "Tom Becker. I'm visiting from the States, so use my US mobile: +1-415-555-2671.",
            ),
        ],
        region="GB",
        name_="Tom Becker",
        phone="+14155552671",
        notes="Explicit +1 number must win over the shop's GB region.",
    ),
    Labelled(
        name="en_uk_0044_prefix",
        messages=[
            ("user", "We're looking at the villa in Marbella for the last week of August."),
            ("assistant", "Great choice! Who should our booking team contact?"),
            (
                "user",
                "Oliver Grant, Grant & Hale Architects. You can reach me on 0044 20 7946 0958, that's my office in London.",
            ),
        ],
        region="ES",
        name_="Oliver Grant",
        phone="+442079460958",
        company="Grant & Hale Architects",
        notes="00 international prefix instead of +, shop region ES but number is British.",
    ),
    Labelled(
        name="en_uk_plus44_with_bracketed_zero",
        messages=[
            ("user", "Do you stock the ultrasonic scalers in bulk?"),
            ("assistant", "We do. Can I take some details so our trade team can call you?"),
            (
                "user",
                "Priyanka Shah from Shah Dental Care, +44 (0)20 7946 0123, mornings are best.",
            ),
        ],
        region="GB",
        name_="Priyanka Shah",
        phone="+442079460123",
        company="Shah Dental Care",
        notes="The (0) trunk prefix after +44 must be dropped.",
    ),
    Labelled(
        name="en_uk_national_number",
        messages=[
            ("user", "Can someone call me about the boiler service plan?"),
            ("assistant", "Of course. What number should we use?"),
            ("user", "020 7946 0958, ask for Helen Price."),
        ],
        region="GB",
        name_="Helen Price",
        phone="+442079460958",
        notes="National format read with region GB; name given as 'ask for'.",
    ),
    Labelled(
        name="en_email_typo_corrected",
        messages=[
            ("user", "Can someone send me the size chart for the kurta sets?"),
            ("assistant", "Sure, what's your email?"),
            ("user", "priya@gmial.com — sorry, priya@gmail.com"),
            ("user", "Priya Raman btw"),
        ],
        region="IN",
        name_="Priya Raman",
        email="priya@gmail.com",
        notes="First email is a typo the visitor corrects in the same message.",
    ),
    Labelled(
        name="en_phone_actually_use_other",
        messages=[
            ("user", "I want to enquire about the 2BHK flats in Whitefield."),
            ("assistant", "Sure! Please share your name and phone number."),
            (
                "user",
                "Sanjay Iyer. Call me on 98765 43210, actually use 98401 23456 instead, the first one is my work phone.",
            ),
        ],
        region="IN",
        name_="Sanjay Iyer",
        phone="+919840123456",
        notes="Two own numbers; the visitor prefers the second.",
    ),
    Labelled(
        name="en_name_corrected_brother",
        messages=[
            ("user", "Hi, I need to change the delivery address on my order."),
            ("assistant", "I can help with that. Who am I speaking with?"),
            (
                "user",
                "It's Rahul... I mean Rohan, Rahul is my brother, he placed the last order on this account.",
            ),
            ("assistant", "No problem, Rohan. Could I have your surname and email?"),
            ("user", "Rohan Kapoor, rohan.kapoor@example.in"),
        ],
        region="IN",
        name_="Rohan Kapoor",
        email="rohan.kapoor@example.in",
        notes="Brother's name said first and corrected.",
    ),
    Labelled(
        name="en_manager_email_is_third_party",
        messages=[
            (
                "user",
                "I'm Joanna Fernandes, ops coordinator at Acme Logistics. We're looking at your fleet-tracking plan.",
            ),
            ("assistant", "Thanks Joanna! Where should we send the proposal?"),
            (
                "user",
                "My manager's email is boss@acme-logistics.example, please cc him. Mine is j.fernandes@acme-logistics.example.",
            ),
        ],
        region="GB",
        name_="Joanna Fernandes",
        email="j.fernandes@acme-logistics.example",
        company="Acme Logistics",
        notes="Manager's email comes first and must not be taken.",
    ),
    Labelled(
        name="en_wife_number_only",
        messages=[
            ("user", "I ordered a fridge yesterday, when will it be delivered?"),
            (
                "assistant",
                "It's scheduled for Thursday. Can I have a contact number for the driver?",
            ),
            (
                "user",
                "I'm Arjun. I'll be travelling, so send the delivery updates to my wife, her number is 98111 22334.",
            ),
        ],
        region="IN",
        name_="Arjun",
        notes="Rule: visitor's own details only, so the wife's number is not the lead's phone even though it is the contact.",
    ),
    Labelled(
        name="en_bot_gives_support_contact",
        messages=[
            ("user", "How do I return a blender?"),
            (
                "assistant",
                "You can start a return from My Orders, or write to support@homenest.example or call 1800 123 4567 (toll-free).",
            ),
            ("user", "ok thanks, I'm Kavya, will email you."),
        ],
        region="IN",
        name_="Kavya",
        notes="Only contact data in the chat is the shop's, written by the assistant.",
    ),
    Labelled(
        name="en_email_spelled_dot_at",
        messages=[
            ("user", "Please send me the invoice for my last order."),
            ("assistant", "Of course. Which email should we send it to?"),
            ("user", "priya dot raman at gmail dot com"),
        ],
        region="IN",
        email="priya.raman@gmail.com",
        notes="Email spelled out with 'dot' and 'at'.",
    ),
    Labelled(
        name="en_email_bracket_at",
        messages=[
            ("user", "Hi, Sam Ortiz from Northwind Traders. Do you do wholesale coffee beans?"),
            ("assistant", "We do! What's the best email for our price list?"),
            ("user", "sam[at]northwind[dot]example"),
        ],
        region="US",
        name_="Sam Ortiz",
        email="sam@northwind.example",
        company="Northwind Traders",
        notes="Email obfuscated with [at] and [dot].",
    ),
    Labelled(
        name="en_no_contact_data",
        messages=[
            ("user", "What's your return policy on sale items?"),
            ("assistant", "Sale items can be returned within 14 days for store credit."),
            ("user", "And do you ship to Ireland?"),
            ("assistant", "Yes, shipping to Ireland takes 3 to 5 working days."),
        ],
        region="GB",
        notes="Nothing to extract.",
    ),
    Labelled(
        name="en_refuses_details",
        messages=[
            ("user", "How much is the two-seater in green velvet?"),
            (
                "assistant",
                "It's £649. Would you like to leave your number so we can tell you when it's back in stock?",
            ),
            ("user", "I'd rather not share my number. I'll check back myself."),
        ],
        region="GB",
        notes="Visitor refuses; the price is not a phone.",
    ),
    Labelled(
        name="en_initials_order_id_pin_date",
        messages=[
            (
                "user",
                "Hi, this is R. Krishnan. My order ORD-2024-55501234 placed on 12/05/2024 still hasn't reached pincode 600004. I paid Rs 1,499.",
            ),
            ("assistant", "I'm sorry, R. Krishnan. Let me check the courier status for you."),
        ],
        region="IN",
        name_="R. Krishnan",
        notes="Name with an initial; order id, date, pin code and price are not phones.",
    ),
    Labelled(
        name="en_tracking_number_looks_like_mobile",
        messages=[
            (
                "user",
                "Tracking says AWB 8901234567 is out for delivery since yesterday. What's going on?",
            ),
            ("assistant", "Let me check with the courier partner for AWB 8901234567."),
            ("user", "Please do, it's a birthday gift."),
        ],
        region="IN",
        notes="The 10-digit tracking number is a valid Indian mobile by pattern but is not a phone.",
    ),
    Labelled(
        name="en_email_inside_url",
        messages=[
            (
                "user",
                "I got this link https://deals.example/redeem?code=SAVE20&from=newsletter@deals.example, is SAVE20 still valid?",
            ),
            ("assistant", "Yes, SAVE20 works until Sunday on orders over $50."),
        ],
        region="US",
        notes="The address inside the URL is the newsletter sender, not the visitor.",
    ),
    Labelled(
        name="en_only_company_sku_price",
        messages=[
            (
                "user",
                "We're Brightside Cafe in Leeds, we need 3 of SKU 4006381333931 at £129.99 each. Do you do trade pricing?",
            ),
            ("assistant", "We do offer trade pricing for businesses. I'll pass this to our team."),
        ],
        region="GB",
        company="Brightside Cafe",
        notes="Only a company; the 13-digit SKU and the price are not phones.",
    ),
    Labelled(
        name="en_ana_from_lisbon",
        messages=[
            ("user", "I'm Ana from Lisbon, do you ship to Portugal?"),
            ("assistant", "Hi Ana! Yes, we ship to Portugal in 4 to 6 days."),
        ],
        region="PT",
        name_="Ana",
        notes="'from Lisbon' is a place, not part of the name.",
    ),
    Labelled(
        name="en_phone_spaced_digits",
        messages=[
            ("user", "Hi, I'd like a callback about the yoga teacher training."),
            ("assistant", "Sure! Your name and number please?"),
            ("user", "Grace Kim, my number is 2 1 2 5 5 5 0 1 4 3"),
        ],
        region="US",
        name_="Grace Kim",
        phone="+12125550143",
        notes="A space between every digit.",
    ),
    Labelled(
        name="en_phone_split_across_messages",
        messages=[
            ("user", "Can your electrician come round this week?"),
            ("assistant", "Yes, we have Wednesday free. Name and a mobile number?"),
            ("user", "Liam O'Connor, best number is +44 7911"),
            ("user", "123456 sorry, hit enter too soon"),
        ],
        region="GB",
        name_="Liam O'Connor",
        phone="+447911123456",
        notes="The number is split across two messages; the label is the joined number.",
    ),
    Labelled(
        name="en_email_signature_and_shop_contact",
        messages=[
            (
                "assistant",
                "Welcome to Oak & Iron! Our trade desk is trade@oakandiron.example, 020 7946 0000.",
            ),
            ("user", "We'd like samples of the reclaimed oak flooring."),
            ("assistant", "Certainly, where should we send them?"),
            (
                "user",
                "Daniel Okafor | Procurement Lead | Harbor & Pine Ltd | daniel.okafor@harborpine.example | +44 20 7946 0321",
            ),
        ],
        region="GB",
        name_="Daniel Okafor",
        email="daniel.okafor@harborpine.example",
        phone="+442079460321",
        company="Harbor & Pine Ltd",
        notes="Pasted signature; the shop's own email and phone appear first.",
    ),
    Labelled(
        name="en_uppercase_email_trailing_period",
        messages=[
            ("user", "I want to register for the Saturday pottery class."),
            ("assistant", "Wonderful! Name and email please."),
            ("user", "Kiran Rao. EMAIL: KIRAN.RAO@EXAMPLE.IN."),
        ],
        region="IN",
        name_="Kiran Rao",
        email="kiran.rao@example.in",
        notes="Upper-case email; the sentence full stop after it is not part of the address.",
    ),
    Labelled(
        name="en_bot_reads_back_wrong_email",
        messages=[
            ("user", "Tom Hughes here, please send the warranty certificate to tomh@example.com"),
            ("assistant", "Just to confirm, that's tom.h@example.com?"),
            ("user", "No, tomh@example.com, no dot."),
        ],
        region="US",
        name_="Tom Hughes",
        email="tomh@example.com",
        notes="The assistant's wrong read-back must not replace the visitor's address.",
    ),
    Labelled(
        name="en_booking_for_colleague",
        messages=[
            (
                "user",
                "I'm booking the data workshop for my colleague Sarah, sarah.lin@example.com.",
            ),
            ("assistant", "Got it. Who should receive the invoice?"),
            (
                "user",
                "Send the invoice to me: raj.malhotra@example.com. Raj Malhotra, Finch Analytics.",
            ),
        ],
        region="GB",
        name_="Raj Malhotra",
        email="raj.malhotra@example.com",
        company="Finch Analytics",
        notes="Colleague's name and email appear first; the visitor is Raj.",
    ),
    Labelled(
        name="en_uae_mobile",
        messages=[
            ("user", "Do you install blackout blinds in Dubai Marina?"),
            ("assistant", "Yes! Can I take your name and number to arrange a measurement visit?"),
            ("user", "Fatima Khan, +971 50 123 4567 on WhatsApp."),
        ],
        region="AE",
        name_="Fatima Khan",
        phone="+971501234567",
        notes="UAE mobile with country code.",
    ),
    Labelled(
        name="en_digits_inside_email",
        messages=[
            ("user", "Please mail me the fee structure for class 11."),
            ("assistant", "Sure, what's your email?"),
            ("user", "9876543210@example.in"),
        ],
        region="IN",
        email="9876543210@example.in",
        notes="The local part is a mobile number, but it was given as an email, not a phone.",
    ),
    Labelled(
        name="en_personal_then_work_email",
        messages=[
            (
                "user",
                "Hi, I'm Nisha Patel, I run BrightPath Tutors. I'd like a demo of your booking tool.",
            ),
            ("assistant", "Great! What's the best email to send an invite to?"),
            (
                "user",
                "Personal is nisha.p@gmail.com but please use my work one, nisha.patel@brightpath.example",
            ),
        ],
        region="IN",
        name_="Nisha Patel",
        email="nisha.patel@brightpath.example",
        company="BrightPath Tutors",
        notes="Two own emails; the visitor picks the second.",
    ),
    # Hindi (Devanagari)
    Labelled(
        name="hi_name_phone_hyphen",
        messages=[
            ("user", "नमस्ते, क्या आपके पास बनारसी साड़ियाँ हैं?"),
            (
                "assistant",
                "जी हाँ, कई रंगों में उपलब्ध हैं। क्या मैं आपका नाम और फ़ोन नंबर ले सकता हूँ ताकि हमारी टीम आपको कैटलॉग भेज सके?",
            ),
            ("user", "मेरा नाम सुनीता शर्मा है, नंबर 98765-43210 है।"),
        ],
        region="IN",
        name_="सुनीता शर्मा",
        phone="+919876543210",
        notes="Devanagari name; phone with a hyphen in the middle.",
    ),
    Labelled(
        name="hi_email_corrected",
        messages=[
            ("user", "मुझे होम लोन के बारे में जानकारी चाहिए।"),
            ("assistant", "ज़रूर। आपका ईमेल बता दीजिए, हम पूरी जानकारी भेज देंगे।"),
            ("user", "amit.verma@gmial.com"),
            ("user", "माफ़ कीजिए, गलत लिख दिया, amit.verma@gmail.com है। मेरा नाम अमित वर्मा है।"),
        ],
        region="IN",
        name_="अमित वर्मा",
        email="amit.verma@gmail.com",
        notes="Typo corrected in the next message.",
    ),
    Labelled(
        name="hi_own_number_and_sons_number",
        messages=[
            ("user", "मेरा ऑर्डर अभी तक नहीं आया, ऑर्डर नंबर 40512 है।"),
            ("assistant", "असुविधा के लिए खेद है। आपसे संपर्क के लिए कौन-सा नंबर सही रहेगा?"),
            ("user", "मेरा नंबर 09876543210 है, लेकिन शाम को मेरे बेटे से 98111 22334 पर बात कर लीजिए।"),
        ],
        region="IN",
        phone="+919876543210",
        notes="Leading-zero own number; the son's number comes later and is not the visitor's.",
    ),
    Labelled(
        name="hi_no_contact_pin_price",
        messages=[
            ("user", "क्या आप पिन कोड 110001 पर डिलीवरी करते हैं?"),
            ("assistant", "जी हाँ, 3-5 दिन में डिलीवरी हो जाती है।"),
            ("user", "और इस कुर्ते की कीमत ₹2,499 ही है या कोई छूट मिलेगी?"),
            ("assistant", "अभी 10% की छूट चल रही है।"),
        ],
        region="IN",
        notes="Pin code and price only.",
    ),
    Labelled(
        name="hi_devanagari_digits",
        messages=[
            ("user", "मुझे दाँतों की सफ़ाई के लिए अपॉइंटमेंट चाहिए।"),
            ("assistant", "ज़रूर, आपका नाम और नंबर बताइए।"),
            ("user", "राजेश गुप्ता, मेरा नंबर ९८४०१ २३४५६ है।"),
        ],
        region="IN",
        name_="राजेश गुप्ता",
        phone="+919840123456",
        notes="Phone written in Devanagari digits.",
    ),
    # Hinglish (Hindi in Latin letters)
    Labelled(
        name="hinglish_phone_correction",
        messages=[
            ("user", "Bhaiya, AC service ke liye kal kisi ko bhej sakte ho?"),
            ("assistant", "Haan ji, kal slot available hai. Aapka naam aur number bata dijiye."),
            (
                "user",
                "Naam Deepak Yadav. Number 98765 43210... nahi nahi galat bola, 98765 43201 hai",
            ),
        ],
        region="IN",
        name_="Deepak Yadav",
        phone="+919876543201",
        notes="Last two digits swapped and corrected in the same message.",
    ),
    Labelled(
        name="hinglish_email_spelled",
        messages=[
            ("user", "Mujhe aapke data science course ka brochure chahiye"),
            ("assistant", "Zaroor! Apna email share kar dijiye."),
            ("user", "rohit dot k at gmail dot com. Rohit Kumar naam hai"),
        ],
        region="IN",
        name_="Rohit Kumar",
        email="rohit.k@gmail.com",
        notes="Spelled-out email inside Hinglish.",
    ),
    Labelled(
        name="hinglish_company_leading_zero",
        messages=[
            (
                "user",
                "Main Sharma Traders se Vikas bol raha hoon, humein 50 piece steel almirah chahiye bulk mein.",
            ),
            ("assistant", "Bulk order ke liye hamari sales team call karegi. Number bata dijiye?"),
            ("user", "09811122334 pe call karo, subah 10 ke baad"),
        ],
        region="IN",
        name_="Vikas",
        phone="+919811122334",
        company="Sharma Traders",
        notes="Only a first name; the surname is not guessed from the company.",
    ),
    Labelled(
        name="hinglish_refuses",
        messages=[
            ("user", "Is phone ka price kya hai? 128GB wala"),
            (
                "assistant",
                "₹18,999 hai. Kya aap apna number denge taaki offer aane par bata sakein?",
            ),
            ("user", "Nahi, number nahi dunga. Bas price batao aur EMI options."),
            ("assistant", "EMI ₹1,583/month se shuru hai, 12 mahine ke liye."),
        ],
        region="IN",
        notes="Refusal; prices and storage size are not phones.",
    ),
    Labelled(
        name="hinglish_spaced_digits_bot_number",
        messages=[
            ("assistant", "Namaste! Aap humein 1800 102 3456 par bhi call kar sakte hain."),
            (
                "user",
                "Theek hai. Main Neha hoon, mera number 9 8 4 0 1 9 8 7 6 5 hai, callback kar dena",
            ),
        ],
        region="IN",
        name_="Neha",
        phone="+919840198765",
        notes="Bot's toll-free number first; visitor's number spaced digit by digit.",
    ),
    # Tamil
    Labelled(
        name="ta_name_phone",
        messages=[
            ("user", "வணக்கம், திருமணத்துக்கு பட்டுப் புடவைகள் பார்க்க வேண்டும்."),
            (
                "assistant",
                "நிச்சயமாக! உங்கள் பெயர் மற்றும் தொலைபேசி எண்ணைச் சொல்லுங்கள், எங்கள் குழு அழைக்கும்.",
            ),
            ("user", "என் பெயர் கார்த்திக் சுப்ரமணியன், எண் 98401 23456."),
        ],
        region="IN",
        name_="கார்த்திக் சுப்ரமணியன்",
        phone="+919840123456",
        notes="Tamil-script name.",
    ),
    Labelled(
        name="ta_email_corrected",
        messages=[
            ("user", "உங்கள் பேக்கரியில் பிறந்தநாள் கேக் ஆர்டர் செய்ய முடியுமா?"),
            ("assistant", "ஆம்! உறுதிப்படுத்தலை அனுப்ப உங்கள் மின்னஞ்சல் முகவரி என்ன?"),
            ("user", "lakshmi.r@gmail.com"),
            ("user", "இல்லை, தவறு. lakshmi.ravi@gmail.com தான் சரி. நான் லட்சுமி ரவி."),
        ],
        region="IN",
        name_="லட்சுமி ரவி",
        email="lakshmi.ravi@gmail.com",
        notes="Whole address replaced in a follow-up message.",
    ),
    Labelled(
        name="ta_initials_order_pin",
        messages=[
            ("user", "என் ஆர்டர் ORD-2024-55501234 இன்னும் வரவில்லை. பின்கோடு 600004."),
            ("assistant", "மன்னிக்கவும். உங்கள் பெயரைச் சொல்ல முடியுமா?"),
            ("user", "ஆர். கிருஷ்ணன். 12/05/2024 அன்று ஆர்டர் செய்தேன், ₹1,499 செலுத்தினேன்."),
        ],
        region="IN",
        name_="ஆர். கிருஷ்ணன்",
        notes="Tamil name with an initial; order id, pin code, date and price are not phones.",
    ),
    Labelled(
        name="ta_company_landline",
        messages=[
            (
                "user",
                "நான் ஸ்ரீ முருகன் ஸ்டோர்ஸ் கடையிலிருந்து பேசுகிறேன். மொத்த விலையில் அரிசி மூட்டைகள் வேண்டும்.",
            ),
            ("assistant", "மகிழ்ச்சி! உங்களைத் தொடர்பு கொள்ள ஒரு எண் கொடுங்கள்."),
            ("user", "கடை எண் 044 2811 2345, என் பெயர் செல்வம்."),
        ],
        region="IN",
        name_="செல்வம்",
        phone="+914428112345",
        company="ஸ்ரீ முருகன் ஸ்டோர்ஸ்",
        notes="Chennai landline of the visitor's own shop, given as their contact number.",
    ),
    # Spanish
    Labelled(
        name="es_plus34_mobile",
        messages=[
            ("user", "Hola, ¿tenéis cita para corte y color este sábado?"),
            (
                "assistant",
                "¡Hola! Nos queda un hueco a las 11:00. ¿Me dices tu nombre y un teléfono?",
            ),
            ("user", "Soy Lucía Fernández, mi móvil es +34 612 34 56 78."),
        ],
        region="ES",
        name_="Lucía Fernández",
        phone="+34612345678",
        notes="Spanish mobile grouped in pairs.",
    ),
    Labelled(
        name="es_email_arroba_punto",
        messages=[
            ("user", "Quiero el presupuesto de la reforma del baño por escrito."),
            ("assistant", "Claro, ¿a qué correo te lo enviamos?"),
            ("user", "javier punto ruiz arroba gmail punto com"),
        ],
        region="ES",
        email="javier.ruiz@gmail.com",
        notes="Email spelled with Spanish 'punto' and 'arroba'.",
    ),
    Labelled(
        name="es_boss_email_third_party",
        messages=[
            ("user", "Buenas, llamo de Construcciones Norte, necesitamos 200 sacos de cemento."),
            ("assistant", "Perfecto. ¿A quién enviamos la oferta?"),
            (
                "user",
                "Soy Pablo Gil. El correo de mi jefa es marta.ibanez@construccionesnorte.example, pero mándamela a mí: pablo.gil@construccionesnorte.example. Móvil 612 345 679.",
            ),
        ],
        region="ES",
        name_="Pablo Gil",
        email="pablo.gil@construccionesnorte.example",
        phone="+34612345679",
        company="Construcciones Norte",
        notes="Boss's email comes first in the same message.",
    ),
    Labelled(
        name="es_mx_phone_correction",
        messages=[
            ("user", "¿Hacen envíos a Guadalajara?"),
            (
                "assistant",
                "Sí, en 2 a 4 días hábiles. ¿Quieres que te mandemos el seguimiento por WhatsApp?",
            ),
            ("user", "Sí, mi cel es 55 1234 5678"),
            ("user", "perdón, me equivoqué: 55 1234 5687"),
        ],
        region="MX",
        phone="+525512345687",
        notes="Mexican number corrected in the next message.",
    ),
    Labelled(
        name="es_no_contact_order_date",
        messages=[
            ("user", "Hice el pedido #100234567 el 12/05/2024 y me cobraron 1.250,00 € dos veces."),
            (
                "assistant",
                "Lo siento mucho. ¿Me dejas un teléfono para que te llame el equipo de pagos?",
            ),
            ("user", "Prefiero no dar más datos por chat, ¿me confirmáis el reembolso aquí?"),
        ],
        region="ES",
        notes="Refusal; order number, date and amount are not phones.",
    ),
    # French
    Labelled(
        name="fr_national_06",
        messages=[
            ("user", "Bonjour, je voudrais réserver une table pour six personnes samedi soir."),
            ("assistant", "Avec plaisir ! À quel nom, et un numéro pour confirmer ?"),
            ("user", "Camille Dubois, 06 12 34 56 78."),
        ],
        region="FR",
        name_="Camille Dubois",
        phone="+33612345678",
        notes="French mobile in national format.",
    ),
    Labelled(
        name="fr_uppercase_email_replaced",
        messages=[
            ("user", "Pouvez-vous m'envoyer le devis pour la cuisine équipée ?"),
            ("assistant", "Bien sûr, quelle est votre adresse e-mail ?"),
            ("user", "JULIEN.MOREAU@EXAMPLE.FR"),
            (
                "user",
                "Pardon, c'est plutôt j.moreau@example.fr, l'autre n'est plus active. Julien Moreau.",
            ),
        ],
        region="FR",
        name_="Julien Moreau",
        email="j.moreau@example.fr",
        notes="Upper-case address replaced by a different one.",
    ),
    Labelled(
        name="fr_bot_contact_and_company",
        messages=[
            (
                "assistant",
                "Bonjour et bienvenue chez Maison Lumière ! Pour toute question, écrivez à service-client@maisonlumiere.example ou appelez le 01 23 45 67 89.",
            ),
            (
                "user",
                "Bonjour, je suis Hélène Martin, de la société Atelier Verde. Nous cherchons 20 suspensions pour un restaurant.",
            ),
            ("assistant", "Très bien, un conseiller vous recontactera très vite."),
        ],
        region="FR",
        name_="Hélène Martin",
        company="Atelier Verde",
        notes="Shop's email and phone from the assistant; visitor gives only name and company.",
    ),
    Labelled(
        name="fr_refuses_order_price",
        messages=[
            ("user", "Ma commande n° 2024051234 à 49,90 € n'est toujours pas arrivée."),
            (
                "assistant",
                "Je suis désolé. Pouvez-vous me laisser votre numéro pour qu'un conseiller vous rappelle ?",
            ),
            ("user", "Je préfère ne pas donner mon numéro. Répondez-moi ici, s'il vous plaît."),
        ],
        region="FR",
        notes="Refusal; a 10-digit order number is not a phone.",
    ),
    Labelled(
        name="fr_bracket_email_07",
        messages=[
            (
                "user",
                "Bonjour, c'est Claire Roux de la Boulangerie Soleil. Vous livrez la farine bio en 25 kg ?",
            ),
            ("assistant", "Oui ! Où puis-je vous envoyer les tarifs ?"),
            ("user", "claire(at)boulangerie-soleil(dot)example, ou au 07 98 76 54 32."),
        ],
        region="FR",
        name_="Claire Roux",
        email="claire@boulangerie-soleil.example",
        phone="+33798765432",
        company="Boulangerie Soleil",
        notes="Email with (at)/(dot); the article 'la' is not part of the company.",
    ),
    # German
    Labelled(
        name="de_berlin_landline_company",
        messages=[
            ("user", "Guten Tag, wir suchen eine Reinigungsfirma für unser Büro in Berlin-Mitte."),
            ("assistant", "Gern! Wie heißen Sie und unter welcher Nummer erreichen wir Sie?"),
            ("user", "Jonas Becker von Becker & Söhne GmbH, Telefon +49 30 12345678."),
        ],
        region="DE",
        name_="Jonas Becker",
        phone="+493012345678",
        company="Becker & Söhne GmbH",
        notes="Berlin landline; company with ampersand and legal form.",
    ),
    Labelled(
        name="de_email_at_punkt",
        messages=[
            ("user", "Können Sie mir den Katalog als PDF schicken? Lena Weber."),
            ("assistant", "Natürlich, an welche E-Mail-Adresse?"),
            ("user", "lena.weber (at) web (punkt) de"),
        ],
        region="DE",
        name_="Lena Weber",
        email="lena.weber@web.de",
        notes="Email with (at) and German (punkt).",
    ),
    Labelled(
        name="de_mobile_digits_swapped",
        messages=[
            ("user", "Ich möchte eine Probefahrt mit dem E-Bike vereinbaren."),
            ("assistant", "Sehr gern. Unter welcher Handynummer erreichen wir Sie?"),
            ("user", "0151 23456789"),
            ("user", "Moment, Zahlendreher: 0151 23456798."),
        ],
        region="DE",
        phone="+4915123456798",
        notes="German mobile corrected in the next message.",
    ),
    Labelled(
        name="de_colleague_email_third_party",
        messages=[
            (
                "user",
                "Ich bin Markus Braun. Bitte schicken Sie das Angebot an meine Kollegin, anna.schulz@example.de, sie kümmert sich um den Einkauf.",
            ),
            ("assistant", "Gern. Sollen wir Sie in Kopie setzen?"),
            ("user", "Nein, nicht nötig."),
        ],
        region="DE",
        name_="Markus Braun",
        notes="Rule: visitor's own details only, so the colleague's email is not the lead's even though it is where to write.",
    ),
    # Arabic
    Labelled(
        name="ar_uae_mobile",
        messages=[
            ("user", "مرحبا، أريد حجز موعد لصيانة السيارة."),
            ("assistant", "أهلاً بك! ما اسمك ورقم هاتفك؟"),
            ("user", "اسمي أحمد الحمادي، ورقمي +971 50 123 4567"),
        ],
        region="AE",
        name_="أحمد الحمادي",
        phone="+971501234567",
        notes="Arabic-script name; Latin digits inside right-to-left text.",
    ),
    Labelled(
        name="ar_eastern_arabic_digits",
        messages=[
            ("user", "السلام عليكم، هل لديكم عباءات بمقاس كبير؟"),
            ("assistant", "وعليكم السلام، نعم متوفرة. هل تودين أن نتواصل معك؟"),
            ("user", "نعم، أنا فاطمة الزهراني، جوالي ٠٥٠١٢٣٤٥٦٧"),
        ],
        region="SA",
        name_="فاطمة الزهراني",
        phone="+966501234567",
        notes="Saudi mobile written in Eastern Arabic digits with the leading 0.",
    ),
    Labelled(
        name="ar_company_email_bot_support",
        messages=[
            ("assistant", "مرحباً بك في متجر النخبة! يمكنك مراسلتنا على support@nukhba.example"),
            (
                "user",
                "أنا خالد منصور من شركة الأفق للتجارة، نريد عرض سعر لـ 100 جهاز لابتوب. بريدي khalid.mansour@alofuq.example",
            ),
        ],
        region="AE",
        name_="خالد منصور",
        email="khalid.mansour@alofuq.example",
        company="الأفق للتجارة",
        notes="Shop's email first; company label drops the generic word شركة (company).",
    ),
    Labelled(
        name="ar_refuses_order_price",
        messages=[
            ("user", "طلبي رقم 55501234 متأخر، ودفعت 350 ريال."),
            ("assistant", "نعتذر عن التأخير. هل يمكنك تزويدنا برقم جوالك لمتابعة الطلب؟"),
            ("user", "لا أريد مشاركة رقمي، أرجو الرد هنا فقط."),
        ],
        region="SA",
        notes="Refusal; order number and price are not phones.",
    ),
    # Portuguese
    Labelled(
        name="pt_br_mobile",
        messages=[
            ("user", "Oi! Vocês fazem entrega de marmitas na Vila Mariana?"),
            ("assistant", "Fazemos sim! Qual seu nome e WhatsApp?"),
            ("user", "Mariana Souza, +55 11 91234-5678"),
        ],
        region="BR",
        name_="Mariana Souza",
        phone="+5511912345678",
        notes="Brazilian 9-digit mobile with area code.",
    ),
    Labelled(
        name="pt_pt_email_replaced",
        messages=[
            ("user", "Bom dia, queria marcar uma visita ao apartamento T2 em Alfama."),
            ("assistant", "Claro! Pode deixar o seu email e telemóvel?"),
            ("user", "O meu email é joao.silva@sapo.pt e o telemóvel 912 345 678"),
            (
                "user",
                "Aliás, use antes joao.p.silva@sapo.pt, o outro já quase não uso. João Silva.",
            ),
        ],
        region="PT",
        name_="João Silva",
        email="joao.p.silva@sapo.pt",
        phone="+351912345678",
        notes="Email replaced by another own address; phone kept.",
    ),
    Labelled(
        name="pt_only_name_city",
        messages=[
            ("user", "Olá, sou a Inês, do Porto. Têm este sofá em cinzento?"),
            ("assistant", "Olá Inês! Temos sim, em cinzento-claro e cinzento-escuro."),
        ],
        region="PT",
        name_="Inês",
        notes="Only a first name; 'a' is the article and 'do Porto' a city.",
    ),
    Labelled(
        name="pt_br_partner_email_third_party",
        messages=[
            (
                "user",
                "Boa tarde, sou o Carlos Pereira, da Padaria Estrela. Queremos orçamento de uma masseira.",
            ),
            ("assistant", "Boa tarde, Carlos! Para onde envio o orçamento?"),
            (
                "user",
                "O email do meu sócio é ricardo@padariaestrela.example, mas manda pro meu: carlos.pereira@padariaestrela.example. Meu celular é (21) 98765-4321.",
            ),
        ],
        region="BR",
        name_="Carlos Pereira",
        email="carlos.pereira@padariaestrela.example",
        phone="+5521987654321",
        company="Padaria Estrela",
        notes="Partner's email first; Brazilian mobile with area code in brackets.",
    ),
]


# Added with P8: foreign national formats and their context, corrections, "name is" phrasing.
# A phone kept as written (its country cannot be told) is labelled as the visitor wrote it.
ADDED: list[Labelled] = [
    # A national number of another country than the shop's
    Labelled(
        name="en_uk_mobile_in_us_shop",
        messages=[
            ("user", "Can I get the quote for the kitchen cabinets by text?"),
            ("assistant", "Sure! What's your name and mobile number?"),
            ("user", "Alex Moore, my UK mobile is 07911 123456"),
        ],
        region="US",
        name_="Alex Moore",
        phone="+447911123456",
        notes="British national format in a US shop, said to be a UK mobile.",
    ),
    Labelled(
        name="en_plus44_code_said_earlier",
        messages=[
            ("user", "I'm in London at the moment, so the country code is +44."),
            ("assistant", "Thanks! Which number should our travel desk call?"),
            ("user", "Mobile: 07911 123456"),
        ],
        region="IN",
        phone="+447911123456",
        notes="The +44 given in an earlier message tells how to read the national number.",
    ),
    Labelled(
        name="en_us_office_then_cell_in_uk_shop",
        messages=[
            ("user", "We'd like to order 30 blazers for our New York team."),
            ("assistant", "Lovely. Who should our account manager call?"),
            (
                "user",
                "Dana Whitfield. Office is +1 212 555 0143 but my cell is better: (415) 555-2671",
            ),
        ],
        region="GB",
        name_="Dana Whitfield",
        phone="+14155552671",
        notes="+1 used for the office number; the cell in US national format is read the same.",
    ),
    Labelled(
        name="en_foreign_number_no_context",
        messages=[
            ("user", "Do you ship surfboards to Europe?"),
            ("assistant", "We do. Can I take a number for our export team?"),
            ("user", "Sure, call me on 07911 123456 after 6pm."),
        ],
        region="US",
        phone="07911 123456",
        notes="Not a US number and nothing says whose it is: kept as written.",
    ),
    Labelled(
        name="en_germany_number_in_indian_shop",
        messages=[
            ("user", "I'm an NRI living in Germany, I want to buy a flat in Pune."),
            ("assistant", "Wonderful! Name and a number to reach you?"),
            ("user", "Vivek Joshi. My number here is 0151 23456789"),
        ],
        region="IN",
        name_="Vivek Joshi",
        phone="+4915123456789",
        notes="The country named earlier in the conversation (Germany) reads the number.",
    ),
    Labelled(
        name="hinglish_uae_number",
        messages=[
            ("user", "Bhaiya gold chain ka rate kya hai 22 carat?"),
            ("assistant", "Aaj ka rate bhej dete hain. Aapka number?"),
            ("user", "Main abhi Dubai mein hoon, UAE number 050 123 4567 pe WhatsApp karo"),
        ],
        region="IN",
        phone="+971501234567",
        notes="UAE mobile in national format from a visitor of an Indian shop.",
    ),
    Labelled(
        name="es_uk_mobile_in_spanish_shop",
        messages=[
            ("user", "Hola, quiero alquilar el apartamento de Nerja en julio."),
            ("assistant", "¡Genial! ¿Tu nombre y un teléfono?"),
            ("user", "Soy Emma Clarke, mi móvil inglés es 07911 123456"),
        ],
        region="ES",
        name_="Emma Clarke",
        phone="+447911123456",
        notes="'móvil inglés' says the number is British.",
    ),
    Labelled(
        name="fr_belgian_mobile",
        messages=[
            ("user", "Bonjour, livrez-vous à Bruxelles ?"),
            ("assistant", "Oui ! Un numéro pour le livreur ?"),
            ("user", "Mon portable belge : 0470 12 34 56. Sophie Lambert."),
        ],
        region="FR",
        name_="Sophie Lambert",
        phone="+32470123456",
        notes="Valid as a French landline too, but said to be Belgian.",
    ),
    Labelled(
        name="de_swiss_mobile",
        messages=[
            ("user", "Liefern Sie die Sofas auch nach Zürich?"),
            ("assistant", "Ja. Unter welcher Nummer erreichen wir Sie?"),
            ("user", "Meine Schweizer Handynummer ist 079 123 45 67."),
        ],
        region="DE",
        phone="+41791234567",
        notes="Also a valid German number (area 0791), but said to be Swiss.",
    ),
    Labelled(
        name="pt_brazilian_mobile_in_pt_shop",
        messages=[
            ("user", "Olá, vocês enviam azulejos para São Paulo?"),
            ("assistant", "Enviamos. Deixe um contacto, por favor."),
            ("user", "Meu celular brasileiro é (11) 91234-5678, sou a Ana Costa."),
        ],
        region="PT",
        name_="Ana Costa",
        phone="+5511912345678",
        notes="Brazilian national format in a Portuguese shop.",
    ),
    Labelled(
        name="ar_saudi_number_in_uae_shop",
        messages=[
            ("user", "هل توصلون إلى الرياض؟"),
            ("assistant", "نعم. ما رقم جوالك؟"),
            ("user", "رقمي السعودي 0501234567"),
        ],
        region="AE",
        phone="+966501234567",
        notes="Valid as a UAE mobile too, but said to be Saudi.",
    ),
    # Corrections: the corrected value wins even when the wrong one is written last
    Labelled(
        name="en_phone_instead_of",
        messages=[
            ("user", "Please call me about the home loan."),
            ("assistant", "Sure, what's your number?"),
            ("user", "98765 43210"),
            ("user", "Actually no, use 98401 23456 instead of 98765 43210."),
        ],
        region="IN",
        phone="+919840123456",
        notes="The rejected number is repeated after the correction.",
    ),
    Labelled(
        name="en_email_not_the_old_one",
        messages=[
            ("user", "I'd like the brochure for the Goa villas. I'm Kiran Rao."),
            ("assistant", "Sure, which email?"),
            ("user", "Send it to kiran.rao@example.in, not kiran@example.in, that one's old."),
        ],
        region="IN",
        name_="Kiran Rao",
        email="kiran.rao@example.in",
        notes="The address named as not to be used comes last.",
    ),
    Labelled(
        name="es_email_en_vez_de",
        messages=[
            ("user", "Quiero la factura del pedido."),
            ("assistant", "Claro, ¿a qué correo?"),
            ("user", "lucia@gmail.com"),
            ("user", "Perdón, mejor usa lucia.f@gmail.com en vez de lucia@gmail.com"),
        ],
        region="ES",
        email="lucia.f@gmail.com",
        notes="Spanish correction with 'en vez de'.",
    ),
    Labelled(
        name="fr_phone_au_lieu_de",
        messages=[
            ("user", "Je voudrais être rappelé pour l'assurance habitation."),
            ("assistant", "Bien sûr, à quel numéro ?"),
            ("user", "En fait non, appelez le 06 98 76 54 32 au lieu du 06 12 34 56 78."),
        ],
        region="FR",
        phone="+33698765432",
        notes="French correction with 'au lieu du'.",
    ),
    Labelled(
        name="de_phone_statt",
        messages=[
            ("user", "Bitte rufen Sie mich wegen der Probefahrt an."),
            ("assistant", "Gern, unter welcher Nummer?"),
            ("user", "Doch lieber die 0151 23456798 statt 0151 23456789."),
        ],
        region="DE",
        phone="+4915123456798",
        notes="German correction with 'statt'.",
    ),
    Labelled(
        name="pt_phone_em_vez_de",
        messages=[
            ("user", "Quero marcar uma visita ao T2."),
            ("assistant", "Claro, qual o seu telemóvel?"),
            ("user", "912 345 678"),
            ("user", "Aliás, ligue para o 912 345 679 em vez do 912 345 678."),
        ],
        region="PT",
        phone="+351912345679",
        notes="Portuguese correction with 'em vez do'.",
    ),
    Labelled(
        name="hi_phone_wrong_one_last",
        messages=[
            ("user", "मुझे सोफ़ा सेट के बारे में जानकारी चाहिए।"),
            ("assistant", "ज़रूर, आपका नंबर?"),
            ("user", "सही नंबर 98401 23456 है, 98765 43210 गलत था।"),
        ],
        region="IN",
        phone="+919840123456",
        notes="The wrong number comes last, said to be wrong (गलत).",
    ),
    Labelled(
        name="hinglish_phone_purana",
        messages=[
            ("user", "Fridge ki delivery kab tak hogi?"),
            ("assistant", "Kal tak. Driver ke liye number bata dijiye."),
            ("user", "actually nahi, 98401 23456 use karo, 98765 43210 purana hai"),
        ],
        region="IN",
        phone="+919840123456",
        notes="The old number (purana) comes last.",
    ),
    Labelled(
        name="ta_phone_wrong_one_last",
        messages=[
            ("user", "புடவை ஆர்டர் பற்றி பேச வேண்டும்."),
            ("assistant", "உங்கள் எண்ணைச் சொல்லுங்கள்."),
            ("user", "சரியான எண் 98401 23456, 98765 43210 தவறு."),
        ],
        region="IN",
        phone="+919840123456",
        notes="The wrong number (தவறு) comes last.",
    ),
    Labelled(
        name="ar_phone_badalan_min",
        messages=[
            ("user", "أريد موعداً لصيانة المكيف."),
            ("assistant", "ما رقم جوالك؟"),
            ("user", "عفواً، استخدم 0501234568 بدلاً من 0501234567"),
        ],
        region="SA",
        phone="+966501234568",
        notes="Arabic correction with 'بدلاً من' (instead of).",
    ),
    # "name is" phrasing
    Labelled(
        name="en_name_is_lowercase",
        messages=[
            ("user", "Hi, is the yoga class on Sunday open?"),
            ("assistant", "Yes! Can I take your name and email to book you in?"),
            ("user", "name is priya raman, email priya.r@example.in"),
        ],
        region="IN",
        name_="priya raman",
        email="priya.r@example.in",
        notes="'name is' without 'my', written in lower case.",
    ),
    Labelled(
        name="en_company_name_is_not_a_name",
        messages=[
            ("user", "Our company name is Lumen Labs and we need 40 hoodies."),
            ("assistant", "Great, and your name?"),
            ("user", "The name's Tom Baker."),
        ],
        region="GB",
        name_="Tom Baker",
        company="Lumen Labs",
        notes="'company name is' names the company, not the visitor.",
    ),
    Labelled(
        name="es_el_nombre_es",
        messages=[
            ("user", "Necesito un fontanero para mañana."),
            ("assistant", "¿A nombre de quién hago la reserva?"),
            ("user", "El nombre es Andrés Gómez, teléfono 612 345 678."),
        ],
        region="ES",
        name_="Andrés Gómez",
        phone="+34612345678",
        notes="'El nombre es' without 'mi'.",
    ),
    Labelled(
        name="fr_mon_nom_cest",
        messages=[
            ("user", "Bonjour, une table pour deux ce soir ?"),
            ("assistant", "Avec plaisir, à quel nom ?"),
            ("user", "Mon nom c'est Hugo Lambert."),
        ],
        region="FR",
        name_="Hugo Lambert",
        notes="Spoken French 'mon nom c'est'.",
    ),
    Labelled(
        name="de_name_ist",
        messages=[
            ("user", "Ich brauche einen Termin beim Zahnarzt."),
            ("assistant", "Gern. Auf welchen Namen?"),
            ("user", "Name ist Anna Schmidt, anna.schmidt@example.de"),
        ],
        region="DE",
        name_="Anna Schmidt",
        email="anna.schmidt@example.de",
        notes="'Name ist' without 'mein'.",
    ),
    Labelled(
        name="pt_me_chamo",
        messages=[
            ("user", "Olá! Têm vagas para a aula de surf amanhã?"),
            ("assistant", "Temos! Como se chama?"),
            ("user", "Me chamo Bruno Lima, o nome é com i."),
        ],
        region="BR",
        name_="Bruno Lima",
        notes="Brazilian 'me chamo'; 'o nome é com i' is not a name.",
    ),
    Labelled(
        name="hi_naam_hai_before_name",
        messages=[
            ("user", "मुझे एसी सर्विस करवानी है।"),
            ("assistant", "ज़रूर, आपका नाम?"),
            ("user", "मेरा नाम है राकेश मेहता।"),
        ],
        region="IN",
        name_="राकेश मेहता",
        notes="'मेरा नाम है' before the name.",
    ),
    Labelled(
        name="hinglish_mera_naam_hai",
        messages=[
            ("user", "Lehenga ka trial kab ho sakta hai?"),
            ("assistant", "Kal 11 baje. Naam bata dijiye?"),
            ("user", "Mera naam hai Pooja Singh"),
        ],
        region="IN",
        name_="Pooja Singh",
        notes="'Mera naam hai' before the name.",
    ),
    Labelled(
        name="ta_peyar_without_en",
        messages=[
            ("user", "நாளைக்கு டேபிள் புக் செய்ய வேண்டும்."),
            ("assistant", "சரி, யார் பெயரில்?"),
            ("user", "பெயர் அருண் குமார்."),
        ],
        region="IN",
        name_="அருண் குமார்",
        notes="'பெயர்' (name) without 'என்' (my).",
    ),
    Labelled(
        name="ar_ismi_huwa",
        messages=[
            ("user", "أريد حجز طاولة الليلة."),
            ("assistant", "باسم من؟"),
            ("user", "اسمي هو محمد علي"),
        ],
        region="AE",
        name_="محمد علي",
        notes="'اسمي هو' (my name is) with the copula.",
    ),
    # Written after the reader was changed, and measured once before any further change.
    Labelled(
        name="en_irish_mobile_in_uk_shop",
        messages=[
            ("user", "Do you deliver the garden furniture to Dublin?"),
            ("assistant", "We do. Your name and a mobile for the courier?"),
            ("user", "Siobhan Kelly here, Irish mobile 087 123 4567"),
        ],
        region="GB",
        name_="Siobhan Kelly",
        phone="+353871234567",
        notes="Irish national format in a British shop, said to be Irish.",
    ),
    Labelled(
        name="en_australian_number_code_given",
        messages=[
            ("user", "I'm calling from Sydney, so it's +61 for me."),
            ("assistant", "No problem. What number should our team call?"),
            ("user", "My name is Jack Wilson and my mobile is 0412 345 678"),
        ],
        region="US",
        name_="Jack Wilson",
        phone="+61412345678",
        notes="+61 given in an earlier message.",
    ),
    Labelled(
        name="es_correction_no_el_otro",
        messages=[
            ("user", "Necesito presupuesto para una mudanza."),
            ("assistant", "¿Tu correo?"),
            ("user", "mario.ruiz@gmail.com"),
            ("user", "Uy, no, ese está mal. Es mario.ruiz@hotmail.com"),
        ],
        region="ES",
        email="mario.ruiz@hotmail.com",
        notes="Correction in a second message, referring to the first address by 'ese'.",
    ),
    Labelled(
        name="fr_nom_cest_lowercase",
        messages=[
            ("user", "Je voudrais un rendez-vous chez le coiffeur jeudi."),
            ("assistant", "Bien sûr, à quel nom ?"),
            ("user", "je m'appelle lucie bernard, 06 11 22 33 44"),
        ],
        region="FR",
        name_="lucie bernard",
        phone="+33611223344",
        notes="Name in lower case after 'je m'appelle'.",
    ),
    Labelled(
        name="de_nummer_falsch_korrigiert",
        messages=[
            ("user", "Können Sie mich wegen der Küche zurückrufen?"),
            ("assistant", "Gern. Ihre Nummer?"),
            ("user", "030 1234567, nein Moment, die ist falsch, richtig ist 030 7654321"),
        ],
        region="DE",
        phone="+49307654321",
        notes="Wrong number said first and called wrong, the right one last.",
    ),
    Labelled(
        name="pt_nome_e",
        messages=[
            ("user", "Boa tarde, queria reservar um quarto duplo."),
            ("assistant", "Claro! Em que nome?"),
            ("user", "O nome é Ricardo Matos, telemóvel 936 123 456."),
        ],
        region="PT",
        name_="Ricardo Matos",
        phone="+351936123456",
        notes="'O nome é' without 'meu'.",
    ),
    Labelled(
        name="hinglish_naam_number_sahi",
        messages=[
            ("user", "Sofa repair ke liye kisi ko bhejo"),
            ("assistant", "Zaroor. Naam aur number?"),
            ("user", "naam hai Manoj Tiwari. number 98765 12345 tha, ab 91234 56780 use karo"),
        ],
        region="IN",
        name_="Manoj Tiwari",
        phone="+919123456780",
        notes="Old number then the one to use.",
    ),
    Labelled(
        name="ar_name_and_kuwaiti_number",
        messages=[
            ("user", "أريد الاستفسار عن دورات اللغة الإنجليزية."),
            ("assistant", "أهلاً! ما اسمك ورقمك؟"),
            ("user", "اسمي سارة العنزي، رقمي الكويتي 9876 5432"),
        ],
        region="AE",
        name_="سارة العنزي",
        phone="+96598765432",
        notes="Kuwaiti number in a UAE shop, said to be Kuwaiti.",
    ),
    Labelled(
        name="en_order_number_and_foreign_phone",
        messages=[
            ("user", "Order 40512345 never arrived. I'm in Singapore now."),
            ("assistant", "Sorry about that! A number to reach you?"),
            ("user", "Sure, 9123 4567"),
        ],
        region="IN",
        phone="+6591234567",
        notes="The order number is not a phone; the number is read in the country named earlier.",
    ),
    Labelled(
        name="ta_name_is_with_email",
        messages=[
            ("user", "எனக்கு வீட்டுக் கடன் பற்றி தகவல் வேண்டும்."),
            ("assistant", "உங்கள் பெயர் மற்றும் மின்னஞ்சல்?"),
            ("user", "பெயர் மீனா சுந்தரம், meena.s@example.in"),
        ],
        region="IN",
        name_="மீனா சுந்தரம்",
        email="meena.s@example.in",
        notes="'பெயர்' with a comma-separated e-mail.",
    ),
]

LABELLED: list[Labelled] = ORIGINAL + ADDED


def _check() -> None:
    import phonenumbers

    names = [case.name for case in LABELLED]
    assert len(names) == len(set(names)), "case names must be unique"
    assert len(LABELLED) >= 45, len(LABELLED)
    for case in LABELLED:
        assert 2 <= len(case.messages) <= 8, case.name
        assert all(role in ("user", "assistant") for role, _ in case.messages), case.name
        assert case.notes, case.name
        if case.email is not None:
            assert case.email == case.email.lower() and "@" in case.email, case.name
        if case.phone is not None and not case.phone.startswith("+"):  # kept as written
            assert any(case.phone in text for role, text in case.messages if role == "user")
        elif case.phone is not None:
            number = phonenumbers.parse(case.phone, None)
            assert phonenumbers.is_valid_number(number), case.name
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            assert e164 == case.phone, case.name


if __name__ == "__main__":
    _check()
    print(f"{len(LABELLED)} labelled conversations look consistent")
